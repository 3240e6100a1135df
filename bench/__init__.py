"""Benchmarks: throughput of the ingest paths and quality of the falsification detectors.

A package so that tests import the harness (`bench.score_findings`, `bench.labelled_bundles`);
the scripts themselves run as ``.venv/bin/python bench/<name>.py``.
"""
