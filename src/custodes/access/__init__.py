"""Agencies, officers, sign-in, roles and agency scoping of what an actor may see.

Scoping lives in repository queries (`scope.py`), not only on routes.
"""
