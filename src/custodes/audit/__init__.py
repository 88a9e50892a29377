"""The append-only, hash-chained audit log: every write and every read of sensitive data.

Entries are written by the unit of work in the same transaction as the change they record.
"""
