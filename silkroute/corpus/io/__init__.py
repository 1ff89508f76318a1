"""Readers and writers for corpus files."""
