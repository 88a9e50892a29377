"""Monitoring orders and their conditions: curfews (RRULE in the subject's zone), zones, check-in policy.

Validation of GeoJSON and recurrence rules lives in `conditions.py`.
"""
