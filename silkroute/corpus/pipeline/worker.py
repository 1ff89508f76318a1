"""One shard through one segment: the unit of work a process (or a Ray task) runs.

Everything a shard produces is written under a temporary name and renamed, and its completion
marker comes last, so a crash or a stop at any point loses at most the shards in flight.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from silkroute.corpus.document import Document
from silkroute.corpus.io.readers import raise_on_bad, read_file
from silkroute.corpus.io.writers import iter_shard_docs
from silkroute.corpus.io.writers import write_shard as write_docs
from silkroute.corpus.pipeline.config import PipelineConfig
from silkroute.corpus.pipeline.layout import Layout, Segment, split_segments
from silkroute.corpus.pipeline.stats import StageStats

# (kind, amount): ("docs", n) documents read; ("bytes", n) input bytes finished.
Report = Callable[[str, int], None]
REPORT_EVERY = 500  # documents between progress reports


def _ignore(kind: str, amount: int) -> None:
    return None


class InputLog:
    """Bad records and unreadable files of one shard, and how its input was decoded."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.bad: list[dict[str, Any]] = []
        self.counters: Counter[str] = Counter()
        self.documents = 0
        self.files = 0

    def __call__(self, path: Path, line: int | None, reason: str, detail: str) -> None:
        if self.strict:
            raise_on_bad(path, line, reason, detail)
        self.bad.append({"file": str(path), "line": line, "reason": reason, "detail": detail})

    def count(self, name: str) -> None:
        self.counters[name] += 1

    def to_json(self) -> dict[str, Any]:
        reasons = Counter(b["reason"] for b in self.bad)
        return {
            "files": self.files,
            "documents": self.documents,
            "bad": dict(reasons),
            "counters": dict(self.counters),
        }


def _read_inputs(
    config: PipelineConfig, files: list[Path], log: InputLog, report: Report
) -> Iterator[Document]:
    for path in files:
        for doc in read_file(path, config.input.format, log, log.count):
            log.documents += 1
            if log.documents % REPORT_EVERY == 0:
                report("docs", REPORT_EVERY)
            yield doc
        log.files += 1
        report("bytes", path.stat().st_size)
    report("docs", log.documents % REPORT_EVERY)


def _after_barrier(
    layout: Layout, prev: Segment, shard: int, stats: dict[str, Any], words: bool, report: Report
) -> Iterator[Document]:
    assert prev.barrier is not None
    with np.load(layout.work(prev.index) / f"keep-{shard:05d}.npz") as decided:
        first, rep, size = int(decided["first"]), decided["rep"], decided["size"]
    stage_stats = StageStats(words=words)
    pos = -1
    for pos, doc in enumerate(
        iter_shard_docs(layout.work(prev.index) / f"docs-{shard:05d}.jsonl.gz")
    ):
        if pos % REPORT_EVERY == REPORT_EVERY - 1:
            report("docs", REPORT_EVERY)
        stage_stats.saw(doc)
        if rep[pos] != first + pos:
            stage_stats.removed["duplicate"] += 1
            continue
        doc.meta[f"{prev.barrier.name}_cluster_size"] = int(size[pos])
        stage_stats.kept(doc)
        yield doc
    report("docs", (pos + 1) % REPORT_EVERY)
    stats[prev.barrier.name] = stage_stats.to_json()


def _public(docs: Iterator[Document]) -> Iterator[Document]:
    for doc in docs:
        doc.meta = {k: v for k, v in doc.meta.items() if not k.startswith("_")}
        yield doc


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False))
    tmp.replace(path)


_SEGMENTS: dict[str, list[Segment]] = {}


def _segments(config: PipelineConfig) -> list[Segment]:
    """Stages built once per process and config: a process runs several shards, and building
    the language-ID detectors (fastText, lingua, profiles) costs about a second each time."""
    key = config.model_dump_json()
    if key not in _SEGMENTS:
        _SEGMENTS.clear()
        _SEGMENTS[key] = split_segments(config.build_stages())
    return _SEGMENTS[key]


def run_shard(
    config: PipelineConfig,
    seg_index: int,
    shard: int,
    files: list[Path],
    report: Report = _ignore,
) -> int:
    """Run one segment's stages on one shard; returns the documents it wrote."""
    layout = Layout(config)
    segments = _segments(config)
    seg = segments[seg_index]
    prev = segments[seg_index - 1] if seg_index else None
    stats: dict[str, Any] = {}
    log = InputLog(config.strict)
    if prev is None:
        docs = _read_inputs(config, files, log, report)
    else:
        docs = _after_barrier(layout, prev, shard, stats, config.count_words, report)
    per_stage: dict[str, StageStats] = {}
    for stage in seg.stages:
        if stage.barrier:
            continue  # its documents pass untouched here; its counts come after the decision
        per_stage[stage.name] = StageStats(words=config.count_words)
        docs = stage.run(docs, per_stage[stage.name])
    if seg.barrier is not None:
        kept = list(docs)
        work = layout.work(seg.index)
        count = write_docs(kept, work / f"docs-{shard:05d}.jsonl.gz", "jsonl.gz", level=1)
        start = time.perf_counter()
        prints = seg.barrier.fingerprints(kept)
        prints["id"] = np.array([d.id for d in kept], dtype=str)
        for key, values in prints.items():
            tmp = work / f"fp-{shard:05d}-{key}.tmp.npy"
            np.save(tmp, values)
            tmp.replace(work / f"fp-{shard:05d}-{key}.npy")
        stats[seg.barrier.name] = StageStats(seconds=time.perf_counter() - start).to_json()
    else:
        count = write_docs(_public(docs), layout.final(shard), config.output.format)
    stats.update({name: s.to_json() for name, s in per_stage.items()})
    if prev is None:
        stats["_input"] = log.to_json()
        quarantine = layout.quarantine(shard)
        quarantine.parent.mkdir(parents=True, exist_ok=True)
        tmp = quarantine.with_name(quarantine.name + ".tmp")
        tmp.write_text("".join(json.dumps(b, ensure_ascii=False) + "\n" for b in log.bad))
        tmp.replace(quarantine)
    _write_json(layout.stats(seg.index, shard), stats)
    _write_json(layout.marker(seg.index, shard), count)
    return count
