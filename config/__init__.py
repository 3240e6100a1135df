"""Lantian configuration: validated settings (environment + YAML) and domain tables."""
