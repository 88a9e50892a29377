"""Retention: each data class's clock from the end of the legal basis, legal holds, deletion in small
batches, and deletion receipts that outlive the data.
"""
