"""Analytics: pure NumPy/pandas/SciPy functions (arrays in, findings out; no I/O, no clock)."""
