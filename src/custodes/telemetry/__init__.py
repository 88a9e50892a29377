"""Telemetry: device uploads (HTTP and MQTT), the raw batch store, the per-device pipeline and trails.

Raw batch → validated → trail → rule evaluation → events → alerts, with the same code in serve and worker.
"""
