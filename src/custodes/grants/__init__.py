"""Purpose-bound police access to one subject's trail: request, decision by the owning agency, expiry.

Also the fixed list of purposes for which anyone may read a trail (`TrailPurpose`).
"""
