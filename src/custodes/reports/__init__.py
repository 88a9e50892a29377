"""Transparency reports: per-group error rates with Wilson intervals (fairness) and DPIA evidence,
and the consented demographic records that the fairness report alone may read.
"""
