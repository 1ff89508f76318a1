"""Stages that keep or drop documents: by language and by quality."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from silkroute.corpus.document import Document
from silkroute.corpus.pipeline.base import Stage
from silkroute.corpus.pipeline.stats import StageStats
from silkroute.corpus.quality import quality_failure, thresholds_for


class LanguageFilterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    languages: list[str] = Field(default_factory=list, description="keep these; empty = any")
    min_score: float = Field(0.5, ge=0.0, le=1.0)


class LanguageFilter(Stage):
    name = "language_filter"
    Params = LanguageFilterParams

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        p: LanguageFilterParams = self.params
        if p.languages and doc.lang not in p.languages:
            return "language_not_wanted"
        if float(doc.meta.get("lang_score", 0.0)) < p.min_score:
            return "language_score_low"
        return doc


class QualityFilter(Stage):
    """Gopher/FineWeb-2 rules; thresholds come from thresholds/<lang>.yaml."""

    name = "quality_filter"

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        reason = quality_failure(doc.text, thresholds_for(doc.lang), doc.meta.get("script"))
        return doc if reason is None else reason
