"""Run a pipeline locally: shards in parallel processes, resumable through completion markers.

The stage list is cut into segments at each dedup (barrier) stage. Every segment runs once per
shard; a barrier segment hands its documents and fingerprints to the next one through files, and
the driver clusters the fingerprints of all shards in between (datatrove-style hand-off).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from silkroute.corpus.document import Document
from silkroute.corpus.io.readers import list_input_files, read_file
from silkroute.corpus.io.writers import iter_shard_docs, shard_entry, shard_name, write_manifest
from silkroute.corpus.io.writers import write_shard as write_docs
from silkroute.corpus.pipeline.base import DedupStage, Stage
from silkroute.corpus.pipeline.config import PipelineConfig
from silkroute.corpus.pipeline.stats import StageStats, merge_stats

Progress = Callable[[str, int, int], None]  # (segment label, done, total)


@dataclass
class Segment:
    index: int
    stages: list[Stage]

    @property
    def barrier(self) -> DedupStage | None:
        last = self.stages[-1] if self.stages else None
        return last if isinstance(last, DedupStage) else None


def split_segments(stages: list[Stage]) -> list[Segment]:
    segments: list[Segment] = [Segment(0, [])]
    for stage in stages:
        segments[-1].stages.append(stage)
        if stage.barrier:
            segments.append(Segment(len(segments), []))
    return segments


class Layout:
    """Where every file of a run lives under the output folder."""

    def __init__(self, config: PipelineConfig) -> None:
        self.out = config.output.dir
        self.fmt = config.output.format

    def work(self, seg: int) -> Path:
        return self.out / "_work" / f"seg{seg}"

    def marker(self, seg: int, shard: int) -> Path:
        return self.out / "_markers" / f"seg{seg}-shard{shard:05d}.done"

    def stats(self, seg: int, shard: int) -> Path:
        return self.out / "_stats" / f"seg{seg}-shard{shard:05d}.json"

    def removed(self, stage: str) -> Path:
        return self.out / "dedup" / f"{stage}.removed.jsonl.gz"

    def final(self, shard: int) -> Path:
        return self.out / "data" / shard_name(shard, self.fmt)


def shard_files(config: PipelineConfig) -> list[list[Path]]:
    """Input files dealt round-robin into shards; one file never spans two shards."""
    files = list_input_files(config.input.paths, config.input.format)
    count = min(len(files), max(config.workers * 4, 1))
    return [files[i::count] for i in range(count)]


def _source(
    config: PipelineConfig,
    layout: Layout,
    prev: Segment | None,
    files: list[Path],
    shard: int,
    stats: dict[str, Any],
) -> Iterator[Document]:
    if prev is None or prev.barrier is None:
        for path in files:
            yield from read_file(path, config.input.format)
        return
    with np.load(layout.work(prev.index) / f"keep-{shard:05d}.npz") as decided:
        first, rep, size = int(decided["first"]), decided["rep"], decided["size"]
    stage_stats = StageStats(words=config.count_words)
    for pos, doc in enumerate(
        iter_shard_docs(layout.work(prev.index) / f"docs-{shard:05d}.jsonl.gz")
    ):
        stage_stats.saw(doc)
        if rep[pos] != first + pos:
            stage_stats.removed["duplicate"] += 1
            continue
        doc.meta[f"{prev.barrier.name}_cluster_size"] = int(size[pos])
        stage_stats.kept(doc)
        yield doc
    stats[prev.barrier.name] = stage_stats.to_json()


def run_shard(config: PipelineConfig, seg_index: int, shard: int, files: list[Path]) -> int:
    layout = Layout(config)
    segments = split_segments(config.build_stages())
    seg = segments[seg_index]
    prev = segments[seg_index - 1] if seg_index else None
    stats: dict[str, Any] = {}
    docs: Iterator[Document] = _source(config, layout, prev, files, shard, stats)
    per_stage: dict[str, StageStats] = {}
    for stage in seg.stages:
        if stage.barrier:
            continue  # its documents pass untouched here; its counts come after clustering
        per_stage[stage.name] = StageStats(words=config.count_words)
        docs = stage.run(docs, per_stage[stage.name])
    if seg.barrier is not None:
        kept = list(docs)
        work = layout.work(seg.index)
        count = write_docs(kept, work / f"docs-{shard:05d}.jsonl.gz", "jsonl.gz")
        start = time.perf_counter()
        prints = seg.barrier.fingerprints(kept)
        prints["id"] = np.array([d.id for d in kept], dtype=str)
        for key, values in prints.items():
            np.save(work / f"fp-{shard:05d}-{key}.npy", values)
        stats[seg.barrier.name] = StageStats(seconds=time.perf_counter() - start).to_json()
    else:
        count = write_docs(_public(docs), layout.final(shard), config.output.format)
    stats.update({name: s.to_json() for name, s in per_stage.items()})
    layout.stats(seg.index, shard).parent.mkdir(parents=True, exist_ok=True)
    layout.stats(seg.index, shard).write_text(json.dumps(stats))
    layout.marker(seg.index, shard).parent.mkdir(parents=True, exist_ok=True)
    layout.marker(seg.index, shard).write_text(str(count))
    return count


def _public(docs: Iterator[Document]) -> Iterator[Document]:
    for doc in docs:
        doc.meta = {k: v for k, v in doc.meta.items() if not k.startswith("_")}
        yield doc


def _prints(work: Path, shard: int) -> dict[str, np.ndarray]:
    """One shard's fingerprint arrays, memory-mapped: the driver never holds them all."""
    prefix = f"fp-{shard:05d}-"
    return {
        p.name[len(prefix) : -len(".npy")]: np.load(p, mmap_mode="r")
        for p in sorted(work.glob(f"{prefix}*.npy"))
    }


def _gather(arrays: list[np.ndarray], offsets: np.ndarray, index: np.ndarray) -> list[str]:
    shard_of = np.searchsorted(offsets, index, side="right") - 1
    return [str(arrays[s][i - offsets[s]]) for s, i in zip(shard_of, index, strict=True)]


def resolve_barrier(layout: Layout, seg: Segment, shards: int) -> None:
    """Decide over the fingerprints of all shards; write per shard which positions survive,
    and every removed document with the document kept in its place."""
    assert seg.barrier is not None
    work = layout.work(seg.index)
    done = work / "decisions.json"
    if done.exists():
        return
    start = time.perf_counter()
    prints = [_prints(work, s) for s in range(shards)]
    decisions = seg.barrier.decide(prints)
    counts = [len(p["id"]) for p in prints]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sizes = decisions.cluster_sizes
    for s in range(shards):
        part = slice(int(offsets[s]), int(offsets[s + 1]))
        np.savez(
            work / f"keep-{s:05d}.npz",
            first=offsets[s],
            rep=decisions.rep[part],
            size=sizes[part],
        )
    removed = np.flatnonzero(decisions.rep != np.arange(decisions.rep.size))
    ids = [p["id"] for p in prints]
    langs = [p["lang"] for p in prints]
    removed_path = layout.removed(seg.barrier.name)
    removed_path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(removed_path, "wt", encoding="utf-8") as handle:
        for lo in range(0, removed.size, 10_000):
            chunk = removed[lo : lo + 10_000]
            kept = decisions.rep[chunk]
            rows = zip(
                _gather(ids, offsets, chunk),
                _gather(langs, offsets, chunk),
                _gather(ids, offsets, kept),
                decisions.similarity[chunk].tolist(),
                strict=True,
            )
            for doc_id, lang, kept_id, similarity in rows:
                record = {"id": doc_id, "lang": lang, "kept_id": kept_id}
                record["similarity"] = round(similarity, 4)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    info = {
        "seconds": round(time.perf_counter() - start, 4),
        "documents": int(decisions.rep.size),
        "removed": int(removed.size),
        "candidate_pairs": decisions.candidate_pairs,
        "verified_pairs": decisions.verified_pairs,
        "largest_cluster": int(sizes.max()) if sizes.size else 0,
        "cluster_sizes": decisions.size_histogram(),
    }
    done.write_text(json.dumps(info))


def run_pipeline(config: PipelineConfig, progress: Progress | None = None) -> dict[str, Any]:
    layout = Layout(config)
    shards = shard_files(config)
    segments = split_segments(config.build_stages())
    for seg in segments:
        layout.work(seg.index).mkdir(parents=True, exist_ok=True)
        todo = [s for s in range(len(shards)) if not layout.marker(seg.index, s).exists()]
        label = f"segment {seg.index + 1}/{len(segments)}: " + (
            ", ".join(st.name for st in seg.stages) or "write"
        )
        done = len(shards) - len(todo)
        if progress:
            progress(label, done, len(shards))
        with ProcessPoolExecutor(max_workers=config.workers) as pool:
            futures = [pool.submit(run_shard, config, seg.index, s, shards[s]) for s in todo]
            for future in as_completed(futures):
                future.result()
                done += 1
                if progress:
                    progress(label, done, len(shards))
        if seg.barrier is not None:
            resolve_barrier(layout, seg, len(shards))
    return finish(config, layout, segments, len(shards))


def finish(
    config: PipelineConfig, layout: Layout, segments: list[Segment], shards: int
) -> dict[str, Any]:
    entries = [
        shard_entry(layout.final(s), int(layout.marker(len(segments) - 1, s).read_text()))
        for s in range(shards)
    ]
    write_manifest(layout.out, entries)
    per_shard = [
        json.loads(layout.stats(seg.index, s).read_text())
        for seg in segments
        for s in range(shards)
    ]
    merged = merge_stats(per_shard)
    order = [st.name for seg in segments for st in seg.stages]
    clusters = {
        seg.barrier.name: json.loads((layout.work(seg.index) / "decisions.json").read_text())
        for seg in segments
        if seg.barrier is not None
    }
    stages = {name: merged[name] for name in order if name in merged}
    for name, info in clusters.items():
        # fingerprints (summed over the workers) plus the driver's decision over all shards
        stages[name]["seconds"] = round(stages[name]["seconds"] + info["seconds"], 4)
    summary = {
        "stages": stages,
        "dedup_clusters": clusters,
        "shards": shards,
        "output_documents": sum(e["documents"] for e in entries),
    }
    (layout.out / "stats.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if config.report:
        from silkroute.corpus.report import write_report

        write_report(summary, layout.out)
    return summary
