"""Alerts: the edge that turns analytics results into stored AQI, findings and ledger cases."""
