"""Language identification for the region: script routing, then combined offline detectors."""

from silkroute.corpus.langid.combined import CombinedLangId, LangResult

__all__ = ["CombinedLangId", "LangResult"]
