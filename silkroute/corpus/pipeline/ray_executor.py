"""The same pipeline on Ray: each (segment, shard) is one Ray task running `worker.run_shard`.

The driver stays where it is (segments in order, the dedup decisions between them, the resume
markers), so a Ray run writes byte-for-byte the documents a local run writes and resumes the same
way. The output folder must be visible to every Ray node (one machine, or a shared file system).
`ray.init()` joins the cluster named by RAY_ADDRESS, or starts a local head with `workers` CPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from silkroute.corpus.errors import CorpusError
from silkroute.corpus.pipeline import worker
from silkroute.corpus.pipeline.config import PipelineConfig


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CorpusError(
            "executor: ray is not installed (pip install 'silkroute[ray]', or use --executor local)"
        ) from None
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    return ray


def _shard_task(config: PipelineConfig, seg: int, shard: int, files: list[Path]) -> int:
    return worker.run_shard(config, seg, shard, files)


def run_segment_on_ray(
    config: PipelineConfig,
    seg: int,
    todo: dict[int, list[Path]],
    finished: Callable[[int, int], None],
) -> None:
    """Run one segment's unfinished shards as Ray tasks; `finished(shard, documents)` each."""
    ray = _ray()
    task = ray.remote(num_cpus=1, max_retries=0)(_shard_task)
    shard_of = {task.remote(config, seg, shard, files): shard for shard, files in todo.items()}
    pending = list(shard_of)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in ready:
                try:
                    finished(shard_of[ref], int(ray.get(ref)))
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.as_instanceof_cause()
                    if isinstance(cause, CorpusError):
                        raise CorpusError(str(cause).splitlines()[-1]) from None
                    raise
    finally:
        for ref in pending:
            ray.cancel(ref)
