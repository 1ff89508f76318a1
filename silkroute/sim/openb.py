"""Loader for Alibaba's openb GPU trace (cluster-trace-gpu-v2023, the FGD paper's trace)."""

from __future__ import annotations

import csv
import math
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
MAX_GPUS_PER_NODE = 64  # as a cluster file's node group (model/cluster.py)


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
    """(line, row) of a CSV file; a file that is not UTF-8 CSV is a SpecError naming the line.
    A byte-order mark is dropped (it hid the first column's name)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    line = 1
    try:
        with handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise SpecError(f"{path}: line 1: missing columns: {', '.join(missing)}")
            for line, row in enumerate(reader, start=2):
                yield line, row
    except UnicodeDecodeError:
        raise SpecError(f"{path}: after line {line}: not UTF-8 text; not an openb CSV") from None
    except csv.Error as exc:
        raise SpecError(f"{path}: after line {line}: not a valid CSV row: {exc}") from None


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
    if not math.isfinite(value):  # `nan` crashed int() with no file named, `inf` a traceback
        raise SpecError(f"{path}: line {line}: {column}: must be a finite number (got {text})")
    if value < 0:
        raise SpecError(f"{path}: line {line}: {column}: must be >= 0 (got {text})")
    return value


def _count(
    path: Path,
    line: int,
    row: dict[str, str],
    column: str,
    least: int = 0,
    most: int | None = None,
) -> int:
    """A whole number (`2.7` GPUs was cut to 2) from `least` to `most`."""
    value = _number(path, line, row, column)
    if not value.is_integer():
        raise SpecError(f"{path}: line {line}: {column}: must be a whole number (got {value:g})")
    if value < least:
        raise SpecError(f"{path}: line {line}: {column}: must be >= {least} (got {value:g})")
    if most is not None and value > most:
        raise SpecError(f"{path}: line {line}: {column}: must be at most {most} (got {value:g})")
    return int(value)


def _name(path: Path, line: int, row: dict[str, str], column: str, seen: dict[str, int]) -> str:
    """A non-empty name not used by an earlier row (it names a node or a trace job)."""
    name = (row.get(column) or "").strip()
    if not name:
        raise SpecError(f"{path}: line {line}: {column}: empty")
    if name in seen:
        raise SpecError(f"{path}: line {line}: {column}: {name!r} is already on line {seen[name]}")
    seen[name] = line
    return name


def load_nodes(path: str | Path) -> list[NodeInfo]:
    path = Path(path)
    cat = catalogue()
    nodes = []
    names: dict[str, int] = {}
    for line, row in _rows(path, NODE_COLUMNS):
        name = _name(path, line, row, "sn", names)
        gpus = _count(path, line, row, "gpu", most=MAX_GPUS_PER_NODE)
        model = (row.get("model") or "").strip()
        if gpus and not model:
            raise SpecError(f"{path}: line {line}: model: a node with GPUs names their model")
        nodes.append(
            NodeInfo(
                name=name,
                site="openb",
                accelerator=cat.canonical(model) if gpus else None,
                accelerators=gpus,
                # A node without CPUs or memory could be in no cluster file.
                cpu_milli=_count(path, line, row, "cpu_milli", least=1),
                mem_mib=_count(path, line, row, "memory_mib", least=1),
            )
        )
    if not nodes:
        raise SpecError(f"{path}: no nodes")
    return nodes


def load_pods(path: str | Path) -> list[Pod]:
    path = Path(path)
    cat = catalogue()
    pods = []
    names: dict[str, int] = {}
    for line, row in _rows(path, POD_COLUMNS):
        name = _name(path, line, row, "name", names)
        num_gpu = _count(path, line, row, "num_gpu", most=MAX_GPUS_PER_NODE)
        gpu_milli = _count(path, line, row, "gpu_milli")
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
        qos = (row.get("qos") or "").strip() or "BE"
        if qos not in QOS_PRIORITY:  # it was served at normal priority, unsaid
            valid = ", ".join(QOS_PRIORITY)
            raise SpecError(f"{path}: line {line}: qos: unknown class {qos!r}; valid: {valid}")
        pods.append(
            Pod(
                name=name,
                cpu_milli=_count(path, line, row, "cpu_milli"),
                memory_mib=_count(path, line, row, "memory_mib"),
                num_gpu=num_gpu,
                gpu_milli=gpu_milli if num_gpu else 0,
                gpu_spec=tuple(cat.canonical(t) for t in spec.split("|")) if spec else None,
                qos=qos,
                creation_time=created,
                scheduled_time=scheduled,
                deletion_time=deleted,
            )
        )
    if not pods:  # a header alone gave an empty trace that `trace validate` then refused
        raise SpecError(f"{path}: no pods")
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
    folder = path.parent if path.is_file() else path
    if not (folder / "openb_node_list_all_node.csv").exists():
        # Of a file (`trace.jsonl.gz`, `t.JSONL`) it named only the folder the file is in.
        what = f"{path}: not a file of " if path.is_file() else f"{path}: not "
        raise SpecError(f"{what}an openb trace folder (no openb_node_list_all_node.csv)")
    return folder
