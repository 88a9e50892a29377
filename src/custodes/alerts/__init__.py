"""Alerts raised from events that need action: open -> acknowledged -> resolved, with outcome and reason.

Device faults are kept apart from breaches by `category`; dedupe keys make raising idempotent.
"""
