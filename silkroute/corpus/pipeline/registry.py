"""The one list of pipeline stages: the YAML stage name -> its class."""

from __future__ import annotations

from silkroute.corpus.errors import CorpusError
from silkroute.corpus.pipeline.base import Stage
from silkroute.corpus.stages.dedup import ExactDedup, MinHashDedup
from silkroute.corpus.stages.filters import LanguageFilter, QualityFilter
from silkroute.corpus.stages.text import LangId, Normalize, PiiRedact

STAGES: list[type[Stage]] = [
    Normalize,
    LangId,
    LanguageFilter,
    QualityFilter,
    PiiRedact,
    ExactDedup,
    MinHashDedup,
]
STAGE_BY_NAME = {stage.name: stage for stage in STAGES}


def stage_class(name: str, where: str) -> type[Stage]:
    if name not in STAGE_BY_NAME:
        raise CorpusError(f"{where}: unknown stage {name!r}; valid: {', '.join(STAGE_BY_NAME)}")
    return STAGE_BY_NAME[name]
