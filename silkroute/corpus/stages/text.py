"""Stages that change or annotate text: normalisation, language ID, PII redaction."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from functools import cached_property
from itertools import islice

from pydantic import BaseModel, ConfigDict, Field

from silkroute.corpus.document import Document
from silkroute.corpus.langid import CombinedLangId, LangResult
from silkroute.corpus.langid.combined import SAMPLE_CHARS
from silkroute.corpus.normalize import (
    has_myanmar,
    normalize_text,
    zawgyi_probability,
    zawgyi_to_unicode,
)
from silkroute.corpus.pii import PiiRedactor
from silkroute.corpus.pipeline.base import Stage
from silkroute.corpus.pipeline.stats import StageStats


class NormalizeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    zawgyi: bool = True
    zawgyi_threshold: float = Field(0.95, ge=0.0, le=1.0)


class Normalize(Stage):
    """NFC, invisible junk removed, Zawgyi Burmese converted to Unicode."""

    name = "normalize"
    Params = NormalizeParams

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        text = normalize_text(doc.text)
        p: NormalizeParams = self.params
        if p.zawgyi and has_myanmar(text) and zawgyi_probability(text) > p.zawgyi_threshold:
            text = zawgyi_to_unicode(text)
            doc.meta["zawgyi_converted"] = True
            stats.counters["zawgyi_converted"] += 1
        doc.text = text
        return doc


# Documents identified together: each detector runs over the batch in one loop, so its tables stay
# in the CPU caches (on the benchmark: batches of 64 / 256 / 1,000 documents ran at 1.9x / 2.2x /
# 2.4x fastText alone's rate); a few MiB of documents in flight.
LANGID_BATCH = 1000


class LangIdParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    # Characters of Latin text the detectors read (the default changes no label on the
    # evaluation sets; 400 is ~1.25x faster and a little worse on long documents).
    sample_chars: int = Field(SAMPLE_CHARS, ge=100, le=100_000)


class LangId(Stage):
    """Annotates `lang`, `lang_score` and `script`; filtering is the language_filter's job."""

    name = "langid"
    Params = LangIdParams

    @cached_property
    def detector(self) -> CombinedLangId:
        params = self.params if isinstance(self.params, LangIdParams) else LangIdParams()
        return CombinedLangId(sample_chars=params.sample_chars)

    def run(self, docs: Iterable[Document], stats: StageStats) -> Iterator[Document]:
        """Per batch of LANGID_BATCH documents (the same labels as one at a time)."""
        stream = iter(docs)
        while batch := list(islice(stream, LANGID_BATCH)):
            start = time.perf_counter()
            sizes = [stats.saw(doc) for doc in batch]
            results = self.detector.identify_batch([doc.text for doc in batch])
            for doc, result, size in zip(batch, results, sizes, strict=True):
                self._annotate(doc, result, stats)
                stats.kept(doc, size)  # the text is unchanged: its size too
            stats.seconds += time.perf_counter() - start
            yield from batch

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        self._annotate(doc, self.detector.identify(doc.text), stats)
        return doc

    def _annotate(self, doc: Document, result: LangResult, stats: StageStats) -> None:
        meta = doc.meta
        meta["lang"], meta["lang_score"], meta["script"] = result.lang, result.score, result.script
        if result.uncertain is not None:
            # Kept under the vote's label, but marked and counted: the reader decides.
            doc.meta["lang_uncertain"] = result.uncertain
            stats.counters[f"lang_uncertain:{result.lang}|{result.uncertain}"] += 1


class PiiParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    default_region: str = "SG"


class PiiRedact(Stage):
    name = "pii"
    Params = PiiParams

    @cached_property
    def redactor(self) -> PiiRedactor:
        return PiiRedactor(default_region=self.params.default_region)

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        doc.text, counts = self.redactor.redact(doc.text, doc.lang)
        if counts:
            doc.meta["pii"] = dict(counts)
            stats.counters.update({f"pii_{k}": v for k, v in counts.items()})
        return doc
