"""Robustness plots: being written."""
