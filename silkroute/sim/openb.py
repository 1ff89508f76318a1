"""Loader for Alibaba's openb GPU trace (cluster-trace-gpu-v2023, the FGD paper's trace)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from silkroute.model.accelerators import catalogue
from silkroute.model.errors import SpecError
from silkroute.model.job import PRIORITY_CLASSES, JobKind
from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.truth import SimJob

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
QOS_PRIORITY = {
    "LS": PRIORITY_CLASSES["high"],
    "Guaranteed": PRIORITY_CLASSES["high"],
    "Burstable": PRIORITY_CLASSES["normal"],
    "BE": PRIORITY_CLASSES["best-effort"],
}
DEFAULT_TENANTS = 8


@dataclass(frozen=True, slots=True)
class Pod:
    """One row of a pod list, checked."""

    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: tuple[str, ...] | None
    qos: str
    creation_time: float | None
    scheduled_time: float | None
    deletion_time: float | None

    @property
    def demand(self) -> Demand:
        if self.num_gpu == 0:
            return Demand(0, 0, self.cpu_milli, self.memory_mib)
        milli = self.gpu_milli if self.num_gpu == 1 else MILLI
        return Demand(self.num_gpu, milli, self.cpu_milli, self.memory_mib)

    @property
    def gpu_request_milli(self) -> int:
        return self.demand.gpu_slots * self.demand.gpu_milli


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise SpecError(f"{path}: line 1: missing columns: {', '.join(missing)}")
        yield from enumerate(reader, start=2)


def _number(
    path: Path, line: int, row: dict[str, str], column: str, optional: bool = False
) -> float:
    text = (row.get(column) or "").strip()
    if not text:
        if optional:
            return float("nan")
        raise SpecError(f"{path}: line {line}: {column}: empty")
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{path}: line {line}: {column}: not a number ({text!r})") from None
    if value < 0:
        raise SpecError(f"{path}: line {line}: {column}: must be >= 0 (got {text})")
    return value


def load_nodes(path: str | Path) -> list[NodeInfo]:
    path = Path(path)
    cat = catalogue()
    nodes = []
    for line, row in _rows(path, NODE_COLUMNS):
        gpus = int(_number(path, line, row, "gpu"))
        model = (row.get("model") or "").strip()
        if gpus and not model:
            raise SpecError(f"{path}: line {line}: model: a node with GPUs names their model")
        nodes.append(
            NodeInfo(
                name=row["sn"],
                site="openb",
                accelerator=cat.canonical(model) if gpus else None,
                accelerators=gpus,
                cpu_milli=int(_number(path, line, row, "cpu_milli")),
                mem_mib=int(_number(path, line, row, "memory_mib")),
            )
        )
    if not nodes:
        raise SpecError(f"{path}: no nodes")
    return nodes


def load_pods(path: str | Path) -> list[Pod]:
    path = Path(path)
    cat = catalogue()
    pods = []
    for line, row in _rows(path, POD_COLUMNS):
        num_gpu = int(_number(path, line, row, "num_gpu"))
        gpu_milli = int(_number(path, line, row, "gpu_milli"))
        if num_gpu and not 0 < gpu_milli <= MILLI:
            raise SpecError(f"{path}: line {line}: gpu_milli: must be in 1..1000 (got {gpu_milli})")
        if num_gpu > 1 and gpu_milli != MILLI:
            raise SpecError(f"{path}: line {line}: gpu_milli: multi-GPU pods take whole GPUs")
        spec = (row.get("gpu_spec") or "").strip()
        times = [
            _number(path, line, row, c, optional=True)
            for c in ("creation_time", "scheduled_time", "deletion_time")
        ]
        created, scheduled, deleted = (None if np.isnan(t) else t for t in times)
        pods.append(
            Pod(
                name=row["name"],
                cpu_milli=int(_number(path, line, row, "cpu_milli")),
                memory_mib=int(_number(path, line, row, "memory_mib")),
                num_gpu=num_gpu,
                gpu_milli=gpu_milli if num_gpu else 0,
                gpu_spec=tuple(cat.canonical(t) for t in spec.split("|")) if spec else None,
                qos=(row.get("qos") or "BE").strip(),
                creation_time=created,
                scheduled_time=scheduled,
                deletion_time=deleted,
            )
        )
    return pods


def pods_to_jobs(
    pods: list[Pod], seed: int = 0, tenants: int = DEFAULT_TENANTS
) -> tuple[list[SimJob], int]:
    """Jobs for a timed replay. Pods that never ran in the trace have no run time: skipped.

    The trace names no tenants, so pods are dealt to `tenants` tenants at random (seeded).
    Best-effort pods are preemptible (they restart from scratch, having no checkpoints).
    """
    rng = np.random.default_rng(seed)
    owners = rng.integers(0, tenants, size=len(pods))
    jobs: list[SimJob] = []
    skipped = 0
    for pod, owner in zip(pods, owners, strict=True):
        if pod.scheduled_time is None or pod.deletion_time is None or pod.creation_time is None:
            skipped += 1
            continue
        duration = pod.deletion_time - pod.scheduled_time
        if duration <= 0:
            skipped += 1
            continue
        priority = QOS_PRIORITY.get(pod.qos, PRIORITY_CLASSES["normal"])
        jobs.append(
            SimJob(
                id=len(jobs),
                name=pod.name,
                tenant=f"tenant-{owner}",
                kind=JobKind.BATCH,
                workers=1,
                demand=pod.demand,
                accelerator_types=pod.gpu_spec,
                speed=None,
                priority=priority,
                preemptible=priority == PRIORITY_CLASSES["best-effort"],
                checkpoint_interval_s=None,
                time_limit_s=None,
                submit_time=pod.creation_time,
                duration_s={"*": duration},
            )
        )
    return jobs, skipped


def find_trace_dir(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file():
        path = path.parent
    if not (path / "openb_node_list_all_node.csv").exists():
        raise SpecError(f"{path}: not an openb trace folder (no openb_node_list_all_node.csv)")
    return path
