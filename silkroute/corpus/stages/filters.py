"""Stages that keep or drop documents: by language and by quality."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from silkroute.corpus.document import Document
from silkroute.corpus.pipeline.base import Stage
from silkroute.corpus.pipeline.stats import StageStats
from silkroute.corpus.quality import check_thresholds, quality_failure, thresholds_for


class LanguageFilterParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    languages: list[str] = Field(default_factory=list, description="keep these; empty = any")
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    uncertain: Literal["keep", "drop", "only"] = Field(
        "keep",
        description="documents langid marked `lang_uncertain` (a regional language the vote may"
        " have relabelled, or `und_<Script>`): keep them under their label (the reader decides),"
        " drop them, or keep only them (to review)",
    )


class LanguageFilter(Stage):
    name = "language_filter"
    Params = LanguageFilterParams

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        p: LanguageFilterParams = self.params
        if p.languages and doc.lang not in p.languages:
            return "language_not_wanted"
        if float(doc.meta.get("lang_score", 0.0)) < p.min_score:
            return "language_score_low"
        uncertain = "lang_uncertain" in doc.meta
        if uncertain and p.uncertain == "drop":
            return "language_uncertain"
        if not uncertain and p.uncertain == "only":
            return "language_certain"
        if uncertain:  # kept: counted per label, as `language_filter`'s own stats show it
            stats.counters[f"uncertain_kept:{doc.lang}"] += 1
        return doc


class QualityFilter(Stage):
    """Gopher/FineWeb-2 rules; thresholds come from thresholds/<lang>.yaml."""

    name = "quality_filter"

    def __init__(self, params: Any, seed: int = 0) -> None:
        super().__init__(params, seed)
        check_thresholds()  # a bad thresholds file stops the run at its start, not in a worker

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        reason = quality_failure(doc.text, thresholds_for(doc.lang), doc.meta.get("script"))
        return doc if reason is None else reason
