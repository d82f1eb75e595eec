"""Vendored datasets (see LICENSES.md and SOURCES.json)."""
