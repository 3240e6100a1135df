"""Ingest: the edge where readings arrive (MQTT), are validated, and are written to InfluxDB."""
