"""Where every file of a run lives, and how the stage list is cut into segments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from silkroute.corpus.io.writers import shard_name
from silkroute.corpus.pipeline.base import DedupStage, Stage
from silkroute.corpus.pipeline.config import PipelineConfig


@dataclass
class Segment:
    index: int
    stages: list[Stage]

    @property
    def barrier(self) -> DedupStage | None:
        last = self.stages[-1] if self.stages else None
        return last if isinstance(last, DedupStage) else None

    @property
    def label(self) -> str:
        return "+".join(st.name for st in self.stages) or "write"


def split_segments(stages: list[Stage]) -> list[Segment]:
    """A barrier (dedup) stage ends a segment: the next one starts after its decision."""
    segments: list[Segment] = [Segment(0, [])]
    for stage in stages:
        segments[-1].stages.append(stage)
        if stage.barrier:
            segments.append(Segment(len(segments), []))
    return segments


class Layout:
    """Under the output folder: `data/`, `dedup/`, `quarantine.jsonl`, the reports, and the
    intermediates `_work/` (removed after success), `_markers/`, `_stats/`, `_quarantine/`."""

    INTERMEDIATE = ("_work", "_markers", "_stats", "_quarantine")
    OUTPUTS: tuple[str, ...] = (
        "data",
        "dedup",
        "manifest.json",
        "stats.json",
        "report.html",
        "report.png",
    )
    OUTPUTS += ("quarantine.jsonl", "_run.json")

    def __init__(self, config: PipelineConfig) -> None:
        self.out = config.output.dir
        self.fmt = config.output.format

    def work(self, seg: int) -> Path:
        return self.out / "_work" / f"seg{seg}"

    def marker(self, seg: int, shard: int) -> Path:
        return self.out / "_markers" / f"seg{seg}-shard{shard:05d}.done"

    def stats(self, seg: int, shard: int) -> Path:
        return self.out / "_stats" / f"seg{seg}-shard{shard:05d}.json"

    def quarantine(self, shard: int) -> Path:
        return self.out / "_quarantine" / f"shard{shard:05d}.jsonl"

    def removed(self, stage: str) -> Path:
        return self.out / "dedup" / f"{stage}.removed.jsonl.gz"

    def final(self, shard: int) -> Path:
        return self.out / "data" / shard_name(shard, self.fmt)

    @property
    def state(self) -> Path:
        return self.out / "_run.json"
