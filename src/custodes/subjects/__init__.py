"""Monitored people: identity, language and time zone, and which agencies share their case.

Orders and conditions live in `custodes.orders`.
"""
