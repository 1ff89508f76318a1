"""datatrove 0.10 on the corpus benchmark's own files, where it is installed (`bench` extra).

Runs what datatrove can run offline: read -> write (JsonlReader -> JsonlWriter) and its four-step
MinHash dedup (signatures -> buckets -> clusters -> filter, FineWeb's 14 x 8 on word 5-grams),
in this process (one task, one worker) so its CPU time is measured like ours. Its language ID
(fastText lid.176.bin) and Gopher filters need downloads at run time, so those rows keep the
issue's figures.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any


def available() -> bool:
    try:
        import datatrove  # noqa: F401
    except ImportError:
        return False
    return True


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _run(pipeline: list[Any], logs: Path, tasks: int = 1) -> float:
    """One datatrove step, its tasks one after the other in this process (workers=1)."""
    from datatrove.executor import LocalPipelineExecutor

    start = _cpu()
    # Its per-task log (~40 lines a step on stderr) would bury the benchmark's tables; the same
    # log stays in `logs/`.
    with contextlib.redirect_stderr(io.StringIO()):
        executor = LocalPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(logs)
        )
        executor.run()
    return _cpu() - start


def _ids(folder: Path) -> set[str]:
    ids: set[str] = set()
    for path in folder.rglob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            ids.update(json.loads(line)["id"] for line in handle)
    return ids


def run(raw: Path, documents: int) -> dict[str, Any]:
    """docs per CPU-second for read -> write and for MinHash dedup; the ids dedup kept."""
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cpu = _run([JsonlReader(str(raw)), JsonlWriter(str(root / "copy"))], root / "logs-copy")
        result["read_write"] = round(documents / cpu, 1)
        config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)
        sigs, buckets, clusters = root / "sigs", root / "buckets", root / "clusters"
        wall = time.perf_counter()
        cpu = _run(
            [JsonlReader(str(raw)), MinhashDedupSignature(str(sigs), config=config)],
            root / "l1",
        )
        cpu += _run(
            [MinhashDedupBuckets(str(sigs), str(buckets), config=config)],
            root / "l2",
            tasks=config.num_buckets,  # datatrove: one task per band
        )
        cpu += _run([MinhashDedupCluster(str(buckets), str(clusters), config=config)], root / "l3")
        cpu += _run(
            [
                JsonlReader(str(raw)),
                MinhashDedupFilter(str(clusters)),
                JsonlWriter(str(root / "kept")),
            ],
            root / "l4",
        )
        result["dedup"] = round(documents / cpu, 1)
        result["dedup_wall_seconds"] = round(time.perf_counter() - wall, 1)
        result["kept_ids"] = sorted(_ids(root / "kept"))
    return result
