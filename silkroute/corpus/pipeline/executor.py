"""Run a pipeline locally: shards in parallel processes, resumable through completion markers.

The stage list is cut into segments at each dedup (barrier) stage. Every segment runs once per
shard (`worker.run_shard`); a barrier segment hands its documents and fingerprints to the next
one through files, and the driver decides over the fingerprints of all shards in between
(`barrier.resolve_barrier`, datatrove-style hand-off). A rerun resumes only when the config and
the input files are unchanged (a fingerprint of both is kept in `_run.json`); otherwise it says
so and starts over.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import silkroute
from silkroute.corpus.errors import CorpusError
from silkroute.corpus.io.readers import list_input_files
from silkroute.corpus.io.writers import shard_entry, write_manifest
from silkroute.corpus.pipeline import worker
from silkroute.corpus.pipeline.barrier import resolve_barrier
from silkroute.corpus.pipeline.config import PipelineConfig
from silkroute.corpus.pipeline.layout import Layout, Segment, split_segments
from silkroute.corpus.pipeline.stats import merge_stats


@dataclass
class ProgressEvent:
    """Where a segment stands: documents so far, and the done fraction when it can be told."""

    segment: int
    segments: int
    label: str
    docs: int
    fraction: float | None
    elapsed: float
    shards_done: int
    shards: int
    finished: bool = False
    # what shards an earlier run finished had done: counted, but not in the rate and the ETA
    docs_before: int = 0
    fraction_before: float = 0.0


Progress = Callable[[ProgressEvent], None]
Notify = Callable[[str], None]


def shard_files(config: PipelineConfig) -> list[list[Path]]:
    """Input files dealt round-robin into shards; one file never spans two shards."""
    files = list_input_files(config.input.paths, config.input.format)
    count = min(len(files), max(config.workers * 4, 1))
    return [files[i::count] for i in range(count)]


# The data the stages ship with (quality thresholds, language profiles and word lists): an
# upgrade that changes them changes the output as a changed config does.
SHIPPED_DATA = Path(__file__).resolve().parents[1]
SHIPPED_SUFFIXES = (".yaml", ".json", ".txt")


def shipped_data() -> list[list[str]]:
    """[path under `corpus/`, sha256 of its bytes] for every data file the stages ship with,
    and silkroute's version (the code)."""
    files = sorted(
        p
        for p in SHIPPED_DATA.rglob("*")
        if p.suffix in SHIPPED_SUFFIXES and p.is_file() and "__pycache__" not in p.parts
    )
    rows = [
        [str(p.relative_to(SHIPPED_DATA)), hashlib.sha256(p.read_bytes()).hexdigest()]
        for p in files
    ]
    return [["silkroute", silkroute.__version__], *rows]


def run_fingerprint(config: PipelineConfig, shards: list[list[Path]]) -> dict[str, str]:
    """What a run's output depends on, in four parts that a rerun compares: the config (less
    how it is run), every input file's path, size and modification time, how the files are
    dealt into shards (which follows the number of workers), and silkroute's version with
    the data its stages ship with."""
    how = {"workers", "strict", "report", "executor"}  # how it runs, not what it produces
    files = sorted(p for group in shards for p in group)
    parts = {
        "the config": config.model_dump(mode="json", exclude=how),
        "the input files": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        "the sharding": [[str(p) for p in group] for group in shards],
        "silkroute's version or its shipped rules": shipped_data(),
    }
    return {
        name: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
        for name, value in parts.items()
    }


def _start_over(layout: Layout) -> None:
    for name in (*Layout.INTERMEDIATE, *Layout.OUTPUTS):
        path = layout.out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@contextmanager
def _only_run_in(out: Path) -> Iterator[None]:
    """Hold `out/_run.lock` for the run: a second run on the same output folder would write
    the same shards, or delete them when it starts over. The kernel frees the lock when the
    process ends, however it ends."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "_run.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise CorpusError(
                f"output.dir: {out} is in use by another corpus run (process {holder}); "
                "wait for it to end or choose another output folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def _prepare(layout: Layout, fingerprint: dict[str, str], notify: Notify) -> dict[str, Any] | None:
    """Decide between resuming, starting over and returning a finished run's summary."""
    state: dict[str, Any] = {}
    if layout.state.exists():
        state = json.loads(layout.state.read_text())
    started = any((layout.out / name).exists() for name in ("_markers", "data", "stats.json"))
    before = state.get("fingerprint")
    if before == fingerprint and state.get("finished"):
        if (layout.out / "stats.json").exists():
            notify(f"{layout.out}: already finished with this config and input (nothing to do)")
            summary: dict[str, Any] = json.loads((layout.out / "stats.json").read_text())
            return summary
        # its intermediates are gone (removed after success): nothing to resume from
        notify(f"{layout.out}: stats.json of the finished run is missing: starting over")
        _start_over(layout)
    elif before == fingerprint:
        done = len(list((layout.out / "_markers").glob("*.done")))
        notify(f"{layout.out}: resuming ({done} shard step(s) done; config and input unchanged)")
    elif started:
        if isinstance(before, dict):
            changed = " and ".join(k for k in fingerprint if before.get(k) != fingerprint[k])
        else:
            changed = "the config or the input files"  # a run of an older version
        if changed == "the sharding":
            changed += " (--workers sets how many shards the input files are dealt into)"
        notify(f"{layout.out}: {changed} changed since the last run there: starting over")
        _start_over(layout)
    layout.out.mkdir(parents=True, exist_ok=True)
    layout.state.write_text(json.dumps({"fingerprint": fingerprint, "finished": False}))
    return None


_REPORTS: Any = None  # a multiprocessing queue in each worker process


def _init_worker(reports: Any) -> None:
    global _REPORTS
    _REPORTS = reports


def _report(kind: str, amount: int) -> None:
    if _REPORTS is not None and amount:
        _REPORTS.put((kind, amount))


def _pooled_shard(config: PipelineConfig, seg: int, shard: int, files: list[Path]) -> int:
    return worker.run_shard(config, seg, shard, files, _report)


def _documents_read(layout: Layout, shard: int) -> int:
    """Input documents a finished shard of the first segment read (from its stats file)."""
    stats = json.loads(layout.stats(0, shard).read_text())
    return int(stats["_input"]["documents"])


def _run_segment(
    config: PipelineConfig,
    layout: Layout,
    seg: Segment,
    segments: int,
    shards: list[list[Path]],
    progress: Progress | None,
) -> None:
    todo = [s for s in range(len(shards)) if not layout.marker(seg.index, s).exists()]
    done = len(shards) - len(todo)
    if seg.index == 0:
        total_bytes = sum(p.stat().st_size for files in shards for p in files)
        bytes_done = sum(
            p.stat().st_size for s in range(len(shards)) if s not in todo for p in shards[s]
        )
        expected_docs = None
        docs = sum(_documents_read(layout, s) for s in range(len(shards)) if s not in todo)
    else:
        total_bytes = bytes_done = 0
        # each shard's marker of the segment before holds the documents it passed on
        passed = [int(layout.marker(seg.index - 1, s).read_text()) for s in range(len(shards))]
        expected_docs = sum(passed)
        docs = sum(count for s, count in enumerate(passed) if s not in todo)
    docs_before = docs
    if expected_docs is not None:
        fraction_before = docs / expected_docs if expected_docs else 0.0
    else:
        fraction_before = bytes_done / total_bytes if total_bytes else 0.0
    start = time.monotonic()

    def emit(finished: bool = False) -> None:
        if progress is None:
            return
        fraction: float | None
        if expected_docs is not None:
            fraction = docs / expected_docs if expected_docs else 1.0
        else:
            fraction = bytes_done / total_bytes if total_bytes else None
        progress(
            ProgressEvent(
                seg.index,
                segments,
                seg.label,
                docs,
                fraction,
                time.monotonic() - start,
                done,
                len(shards),
                finished,
                docs_before,
                fraction_before,
            )
        )

    if config.executor == "ray":
        from silkroute.corpus.pipeline.ray_executor import run_segment_on_ray

        def finished_shard(shard: int, count: int) -> None:
            # Ray tasks report only when done: their input bytes, or the documents they wrote.
            nonlocal done, docs, bytes_done
            done += 1
            if expected_docs is None:
                bytes_done += sum(p.stat().st_size for p in shards[shard])
                docs += _documents_read(layout, shard)
            else:
                docs += count
            emit()

        run_segment_on_ray(config, seg.index, {s: shards[s] for s in todo}, finished_shard)
        emit(finished=True)
        return
    reports = multiprocessing.get_context().Queue()
    with ProcessPoolExecutor(
        max_workers=config.workers, initializer=_init_worker, initargs=(reports,)
    ) as pool:
        pending: set[Future[int]] = {
            pool.submit(_pooled_shard, config, seg.index, s, shards[s]) for s in todo
        }
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # a worker's CorpusError (strict mode) stops the run here
                    done += 1
                while True:
                    try:
                        kind, amount = reports.get_nowait()
                    except queue.Empty:
                        break
                    if kind == "docs":
                        docs += amount
                    else:
                        bytes_done += amount
                emit()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    emit(finished=True)


def run_pipeline(
    config: PipelineConfig,
    progress: Progress | None = None,
    notify: Notify = lambda message: None,
    keep_work: bool = False,
) -> dict[str, Any]:
    layout = Layout(config)
    shards = shard_files(config)
    with _only_run_in(layout.out):
        summary = _prepare(layout, run_fingerprint(config, shards), notify)
        if summary is None:
            summary = _run(config, layout, shards, progress, keep_work)
    if summary["input"]["documents"] == 0:
        # also when an earlier run over the same empty input already finished
        bad = summary["input"]["bad"]
        reasons = ", ".join(f"{k}: {v}" for k, v in bad.items())
        why = f" ({reasons}; see {layout.out / 'quarantine.jsonl'})"
        raise CorpusError(
            f"input.paths: no documents read from {summary['input']['files']} file(s)"
            + (why if bad else "")
        )
    return summary


def _run(
    config: PipelineConfig,
    layout: Layout,
    shards: list[list[Path]],
    progress: Progress | None,
    keep_work: bool,
) -> dict[str, Any]:
    segments = split_segments(config.build_stages())
    for seg in segments:
        layout.work(seg.index).mkdir(parents=True, exist_ok=True)
        _run_segment(config, layout, seg, len(segments), shards, progress)
        if seg.barrier is not None:
            resolve_barrier(layout, seg, len(shards))
    summary = finish(config, layout, segments, len(shards))
    state = json.loads(layout.state.read_text())
    layout.state.write_text(json.dumps({**state, "finished": True}))
    if not keep_work:
        shutil.rmtree(layout.out / "_work", ignore_errors=True)
    return summary


def _merge_input(items: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"files": 0, "documents": 0, "bad": {}, "counters": {}}
    for item in items:
        total["files"] += item["files"]
        total["documents"] += item["documents"]
        for key in ("bad", "counters"):
            for name, value in item[key].items():
                total[key][name] = total[key].get(name, 0) + value
    return total


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
    inputs = [item.pop("_input") for item in per_shard if "_input" in item]
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
    with (layout.out / "quarantine.jsonl").open("w", encoding="utf-8") as handle:
        for s in range(shards):
            handle.write(layout.quarantine(s).read_text(encoding="utf-8"))
    summary = {
        "input": _merge_input(inputs) | {"quarantine": "quarantine.jsonl"},
        "stages": stages,
        "dedup_clusters": clusters,
        "shards": shards,
        "output_documents": sum(e["documents"] for e in entries),
        "output_dir": str(layout.out),
        "words_counted": config.count_words,
    }
    (layout.out / "stats.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if config.report:
        from silkroute.corpus.report import write_report

        write_report(summary, layout.out)
    return summary
