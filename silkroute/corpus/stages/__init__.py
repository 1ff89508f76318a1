"""Concrete pipeline stages."""
