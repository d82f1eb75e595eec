"""Robustness check: being written."""
