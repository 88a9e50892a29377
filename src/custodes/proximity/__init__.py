"""Victim proximity zones: protected people (with consent), their latest position, the conditions.

Only the latest position per protected person is kept (overwritten, never a trail); no officer reads it.
"""
