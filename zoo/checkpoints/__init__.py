"""Shipped zoo checkpoints and model cards."""
