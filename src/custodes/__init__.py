"""Custodes: accountable electronic monitoring.

One folder per domain (subjects, orders, devices, access, audit, ...); each uses the same file names.
"""

__version__ = "0.1.0"
