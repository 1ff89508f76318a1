"""The lease rule of engine-side fencing, in the gang driver's package: it is shipped to a
Ray cluster with each job (stdlib only), and the local runner and the Slurm script's rule
follow it too. What the folder holds and why: `silkroute/backends/lease.py`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

LEASE_FILE = "lease.json"
ALIVE_FILE = "alive"
# An agent whose lease thread has not touched `alive` for this long is taken as gone. Its
# thread touches it at least once a second; three missed touches is a stalled or dead agent.
AGENT_SILENT_S = 3.0


@dataclass(frozen=True, slots=True)
class Lease:
    lease_s: float
    grace_s: float
    renewed_at: float  # wall clock

    @property
    def ends_at(self) -> float:
        return self.renewed_at + self.lease_s

    @property
    def kill_at(self) -> float:
        """By when every process of a run under this lease is gone: the agent's own fence
        sends SIGKILL by then too, and the control plane writes the run off only later."""
        return self.ends_at + self.grace_s


def read_lease(folder: Path) -> Lease | None:
    """The kept lease, or None where there is none (the agent never heard the control plane)
    or it cannot be read: a runner then has no lease to enforce."""
    try:
        data = json.loads((folder / LEASE_FILE).read_text())
        return Lease(float(data["lease_s"]), float(data["grace_s"]), float(data["renewed_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def agent_silent_s(folder: Path, now: float) -> float:
    """Seconds since the agent last said it is alive (infinite where it never did)."""
    try:
        return now - (folder / ALIVE_FILE).stat().st_mtime
    except OSError:
        return math.inf


class FenceAction(Enum):
    NONE = "none"
    STOP = "stop"  # SIGTERM the rank: its checkpoint grace begins
    KILL = "kill"  # SIGKILL what is left


def fence_action(lease: Lease | None, silent_s: float, now: float, stopping: bool) -> FenceAction:
    """What a runner does now about its rank. `silent_s`: since the agent was last alive;
    `stopping`: the rank is already being stopped (by its agent, a cancel, or this fence).
    Nothing while the lease holds or the agent lives; past the lease with the agent gone,
    stop the rank (unless a stop is under way), and kill it from the lease's end plus the
    grace on, whoever began the stop."""
    if lease is None or now < lease.ends_at or silent_s < AGENT_SILENT_S:
        return FenceAction.NONE
    if now >= lease.kill_at:
        return FenceAction.KILL
    return FenceAction.NONE if stopping else FenceAction.STOP


def next_look_s(lease: Lease | None, now: float) -> float:
    """How long a runner may wait before it looks again: until the lease could have run
    out (a renewal only moves that later), a quarter second once it has, a second where
    there is no lease yet."""
    if lease is None:
        return 1.0
    remaining = lease.ends_at - now
    return 0.25 if remaining <= 0 else min(1.0, max(0.05, remaining))
