"""Deduplication: exact (normalised hash) and verified MinHash-LSH near duplicates, per language."""
