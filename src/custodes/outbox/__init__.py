"""Messages written in the same transaction as the change that caused them (transactional outbox).

Drained afterwards by publishers (webhooks, MQTT); a message exists if and only if its change does.
"""
