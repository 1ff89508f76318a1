"""The one interface every execution engine implements (local processes, Slurm, Ray).

A back end runs *runs*: one attempt of one job at one site. The caller names each run
(`run_id`), so a retried submit after a crash is idempotent, and a restarted agent can ask
the engine what it still runs (`list_runs`) and reconcile: no duplicate runs, no orphans.

Required: `submit`, `poll`, `cancel`, `list_runs`, `inventory` (what the engine offers: its
nodes, CPUs, memory, accelerators and whether each takes work). Optional capabilities are
declared in `capabilities` and discovered, not assumed (EXEMPLARS 9): `logs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from silkroute.model.inventory import SiteInventory

# The job contract: every worker process sees these variables.
ENV_JOB_ID = "SILKROUTE_JOB_ID"
ENV_RUN_ID = "SILKROUTE_RUN_ID"
ENV_ATTEMPT = "SILKROUTE_ATTEMPT"
ENV_RANK = "SILKROUTE_RANK"
ENV_WORLD_SIZE = "SILKROUTE_WORLD_SIZE"
ENV_ACCELERATORS = "SILKROUTE_ACCELERATORS"  # comma-separated device indices on this node
ENV_ACCELERATOR_TYPE = "SILKROUTE_ACCELERATOR_TYPE"
ENV_CHECKPOINT_DIR = "SILKROUTE_CHECKPOINT_DIR"  # survives preemption; resume from here
ENV_SITE = "SILKROUTE_SITE"


class RunState(StrEnum):
    QUEUED = "queued"  # accepted by the engine, not yet running
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the job's own process failed (exit code != 0)
    CANCELLED = "cancelled"  # stopped on request (cancel or preemption)
    LOST = "lost"  # the engine no longer knows the run (node or engine died)

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.LOST})


class BackendError(RuntimeError):
    """The engine refused or failed an operation; the message says which and why."""


@dataclass(frozen=True, slots=True)
class WorkerPlacement:
    """Where one worker of the gang runs: a node name of the site and its device indices."""

    node: str
    devices: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Everything an engine needs to start one run of a job."""

    run_id: str  # unique per attempt; submit is idempotent on it
    job_id: str
    attempt: int
    command: Sequence[str] | str  # argv, or a shell line
    workers: Sequence[WorkerPlacement]  # gang: rank i runs on workers[i]
    workdir: Path
    checkpoint_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    site: str = ""
    accelerator_type: str | None = None
    accelerators_per_worker: float = 0.0
    cpu_per_worker: float = 1.0
    memory_gib_per_worker: float = 1.0
    time_limit_s: float | None = None

    @property
    def world_size(self) -> int:
        return len(self.workers)


@dataclass(frozen=True, slots=True)
class RunStatus:
    run_id: str
    state: RunState
    exit_code: int | None = None
    message: str = ""
    started_at: float | None = None  # engine's wall clock (epoch seconds)
    ended_at: float | None = None
    # The engine stopped it itself because its agent's lease ran out (the local back end's
    # runners: `backends/lease.py`): reported as the agent's own fence is.
    fenced: bool = False
    # The engine holds the run but one of its ranks never started: the submit was cut short
    # (its agent died between recording the run and starting every rank). Submitting it again
    # finishes it: submit is idempotent on the run id and starts only what never started.
    submit_cut_short: bool = False


@runtime_checkable
class Backend(Protocol):
    name: str
    capabilities: frozenset[str]  # optional operations this engine supports, e.g. {"logs"}

    def submit(self, spec: LaunchSpec) -> RunStatus:
        """Start the run; submitting a run_id the engine already has returns its status."""
        ...

    def poll(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        """Current status of each run; a run the engine does not know is LOST."""
        ...

    def cancel(self, run_id: str, grace_s: float = 30.0) -> None:
        """SIGTERM every worker, wait up to `grace_s`, then kill. Unknown runs: no-op."""
        ...

    def list_runs(self) -> list[RunStatus]:
        """Every run the engine still knows (for reconciliation after a restart)."""
        ...

    def inventory(self) -> SiteInventory:
        """The nodes the engine offers, as it sees them now (down and drained ones too)."""
        ...


def worker_env(spec: LaunchSpec, rank: int) -> dict[str, str]:
    """The job contract's variables for worker `rank` (engines add them to `spec.env`)."""
    worker = spec.workers[rank]
    env = dict(spec.env)
    env.update(
        {
            ENV_JOB_ID: spec.job_id,
            ENV_RUN_ID: spec.run_id,
            ENV_ATTEMPT: str(spec.attempt),
            ENV_RANK: str(rank),
            ENV_WORLD_SIZE: str(spec.world_size),
            ENV_ACCELERATORS: ",".join(str(d) for d in worker.devices),
            ENV_ACCELERATOR_TYPE: spec.accelerator_type or "",
            ENV_CHECKPOINT_DIR: str(spec.checkpoint_dir),
            ENV_SITE: spec.site,
        }
    )
    return env
