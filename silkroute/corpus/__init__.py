"""ASEAN Languages Corpus pipeline: read, normalise, identify, filter, dedup, redact, write."""

from silkroute.corpus.document import Document

__all__ = ["Document"]
