"""Face check-ins: unannounced prompts drawn from an order's policy, encrypted face storage,
device submissions and the verified / not_verified / inconclusive decision (never adverse on its own)."""
