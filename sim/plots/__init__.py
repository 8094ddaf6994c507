"""Figures from tables (matplotlib): fan charts, effects, tornado, heatmap, calibration fit.
"""
