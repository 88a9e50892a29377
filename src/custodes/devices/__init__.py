"""Devices as assets (tags, watches, wristbands), their assignment to subjects, and device identity.

`signing.py` authenticates a device's own requests (HMAC-SHA256, timestamp, single-use nonce).
"""
