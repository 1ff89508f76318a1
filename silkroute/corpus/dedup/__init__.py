"""Deduplication: exact (normalised hash) and MinHash-LSH near duplicates, per language."""
