"""ASEAN Languages Corpus pipeline: read, normalise, identify, filter, deduplicate, redact, write."""

from silkroute.corpus.document import Document

__all__ = ["Document"]
