"""Compose -> run -> analyse -> write: forecast, compare, sensitivity, calibrate, back-test, with
provenance; the Python API (``sim.forecast``).
"""
