"""A job as the platform keeps it: the immutable request and its observable run state.

`JobRequest` is what a tenant asked for, made scheduler-ready (demand per worker in
thousandths, priority as a number); the store and the API keep it as it is. `RunState` is what
anyone can observe about a job while it lives: its phase, when it started and ended, where it
runs, and how long it has run on each accelerator type. Neither holds anything only a simulator
knows (how long a job will run) or the scheduler's scratch (that lives in the scheduler's book).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from silkroute.model.job import JobKind, JobSpec

MILLI = 1000  # accelerator shares are counted in thousandths of one device


class JobPhase(StrEnum):
    PENDING = "pending"  # queued, waiting for the scheduler
    STARTING = "starting"  # placed; the driver is launching it (resources held)
    RUNNING = "running"
    TERMINATING = "terminating"  # told to stop; resources held until it reports gone
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobPhase.SUCCEEDED, JobPhase.FAILED, JobPhase.CANCELLED)

    @property
    def holds_resources(self) -> bool:
        return self in (JobPhase.STARTING, JobPhase.RUNNING, JobPhase.TERMINATING)


@dataclass(slots=True, frozen=True)
class Demand:
    """What one worker needs. `gpu_slots` devices, each with `gpu_milli` free thousandths."""

    gpu_slots: int
    gpu_milli: int
    cpu_milli: int
    mem_mib: int

    @property
    def gpus(self) -> float:
        return self.gpu_slots * self.gpu_milli / MILLI

    @staticmethod
    def of(accelerators: float, cpu_cores: float, memory_gib: float) -> Demand:
        if accelerators == 0:
            slots, milli = 0, 0
        elif accelerators < 1:
            slots, milli = 1, round(accelerators * MILLI)
        else:
            slots, milli = int(accelerators), MILLI
        return Demand(slots, milli, round(cpu_cores * 1000), round(memory_gib * 1024))


@dataclass(slots=True, frozen=True)
class JobRequest:
    """What a tenant asked for, as the scheduler reads it. Immutable; `to_dict` round-trips."""

    id: int
    name: str
    tenant: str
    kind: JobKind
    workers: int
    demand: Demand
    accelerator_types: tuple[str, ...] | None  # None: any type
    # Relative speed per type (1.0 = reference), from the spec or a measured profile.
    speed: dict[str, float] | None
    priority: int
    preemptible: bool
    checkpoint_interval_s: float | None
    time_limit_s: float | None  # the user's estimate: the only job length a policy may read
    submit_time: float
    sites: tuple[str, ...] | None = None
    datasets: tuple[str, ...] = ()
    latency_slo_ms: dict[str, float] | None = None

    @staticmethod
    def from_spec(spec: JobSpec, job_id: int, submit_time: float = 0.0) -> JobRequest:
        types = spec.accelerator_types
        return JobRequest(
            id=job_id,
            name=spec.name,
            tenant=spec.tenant,
            kind=spec.kind,
            workers=spec.workers,
            demand=Demand.of(
                spec.accelerators_per_worker, spec.cpu_per_worker, spec.memory_gib_per_worker
            ),
            accelerator_types=tuple(types) if types else None,
            speed=dict(types) if isinstance(types, dict) else None,
            priority=spec.priority_value,
            preemptible=spec.preemptible,
            checkpoint_interval_s=spec.checkpoint_interval_s,
            time_limit_s=spec.time_limit_s,
            submit_time=submit_time,
            sites=tuple(spec.sites) if spec.sites else None,
            datasets=tuple(spec.datasets),
            latency_slo_ms=dict(spec.latency_slo_ms) if spec.latency_slo_ms else None,
        )

    def to_dict(self) -> dict[str, Any]:
        d = self.demand
        return {
            "id": self.id,
            "name": self.name,
            "tenant": self.tenant,
            "kind": self.kind.value,
            "workers": self.workers,
            "demand": [d.gpu_slots, d.gpu_milli, d.cpu_milli, d.mem_mib],
            "accelerator_types": list(self.accelerator_types) if self.accelerator_types else None,
            "speed": dict(self.speed) if self.speed else None,
            "priority": self.priority,
            "preemptible": self.preemptible,
            "checkpoint_interval_s": self.checkpoint_interval_s,
            "time_limit_s": self.time_limit_s,
            "submit_time": self.submit_time,
            "sites": list(self.sites) if self.sites else None,
            "datasets": list(self.datasets),
            "latency_slo_ms": dict(self.latency_slo_ms) if self.latency_slo_ms else None,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> JobRequest:
        types = data.get("accelerator_types")
        sites = data.get("sites")
        return JobRequest(
            id=int(data["id"]),
            name=str(data["name"]),
            tenant=str(data["tenant"]),
            kind=JobKind(data["kind"]),
            workers=int(data["workers"]),
            demand=Demand(*(int(v) for v in data["demand"])),
            accelerator_types=tuple(types) if types else None,
            speed=dict(data["speed"]) if data.get("speed") else None,
            priority=int(data["priority"]),
            preemptible=bool(data["preemptible"]),
            checkpoint_interval_s=data.get("checkpoint_interval_s"),
            time_limit_s=data.get("time_limit_s"),
            submit_time=float(data["submit_time"]),
            sites=tuple(sites) if sites else None,
            datasets=tuple(data.get("datasets") or ()),
            latency_slo_ms=dict(data["latency_slo_ms"]) if data.get("latency_slo_ms") else None,
        )


@dataclass(slots=True)
class RunState:
    """What can be observed about a job: the store keeps it beside the request.

    `placement` names the node and device slots of each worker while the job holds resources
    (node names, so it survives a restart that renumbers nodes). `elapsed_s` is wall time run
    per accelerator type, over every run; `attained_gpu_s` the same times accelerators held.
    """

    phase: JobPhase = JobPhase.PENDING
    first_start_time: float | None = None
    start_time: float | None = None  # start of the run in progress
    end_time: float | None = None
    running_type: str | None = None
    placement: tuple[tuple[str, tuple[int, ...]], ...] = ()
    elapsed_s: dict[str, float] = field(default_factory=dict)
    attained_gpu_s: float = 0.0
    preemptions: int = 0
    start_failures: int = 0
    hold_reason: str | None = None
    # A preemptor waits for these preempted jobs to stop; it then gets their room first.
    waiting_for: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "first_start_time": self.first_start_time,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "running_type": self.running_type,
            "placement": [[node, list(slots)] for node, slots in self.placement],
            "elapsed_s": dict(self.elapsed_s),
            "attained_gpu_s": self.attained_gpu_s,
            "preemptions": self.preemptions,
            "start_failures": self.start_failures,
            "hold_reason": self.hold_reason,
            "waiting_for": list(self.waiting_for),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RunState:
        return RunState(
            phase=JobPhase(data["phase"]),
            first_start_time=data.get("first_start_time"),
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
            running_type=data.get("running_type"),
            placement=tuple(
                (str(n), tuple(int(s) for s in slots)) for n, slots in data["placement"]
            ),
            elapsed_s={str(k): float(v) for k, v in (data.get("elapsed_s") or {}).items()},
            attained_gpu_s=float(data.get("attained_gpu_s", 0.0)),
            preemptions=int(data.get("preemptions", 0)),
            start_failures=int(data.get("start_failures", 0)),
            hold_reason=data.get("hold_reason"),
            waiting_for=tuple(int(i) for i in data.get("waiting_for") or ()),
        )
