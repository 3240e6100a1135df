"""Simulators: real Beijing station data replay, a synthetic station network, CEMS units
speaking HJ 212 (with injected exceedances and falsification patterns), and their publishers."""
