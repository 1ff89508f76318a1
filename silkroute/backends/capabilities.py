"""Optional capabilities a back end may declare in `Backend.capabilities`, and what they mean.

A caller checks `"usage" in backend.capabilities` (or `isinstance(backend, UsageCapable)`)
before calling; nothing here is required of every engine (EXEMPLARS 9).

- ``logs``: `logs(run_id) -> str`, the run's output so far, every rank's lines.
- ``usage``: `usage(run_ids) -> {run_id: RunUsage}`, accelerator time from the engine's own
  records (Slurm's job record, Ray's job start/end), so the platform's ledger can be checked
  against what the engine itself says it ran.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from silkroute.backends.base import BackendError

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True, slots=True)
class RunUsage:
    """What the engine recorded for one run: accelerators held and the wall-clock span."""

    run_id: str
    accelerators: float  # devices the engine allocated to the whole run (all ranks)
    started_at: float | None  # engine's clock, epoch seconds; None: never started
    ended_at: float | None  # None: still running
    # The engine's own run time of an ended run where it keeps one (Slurm's ElapsedRaw, which
    # leaves out time suspended); None: the span from start to end.
    elapsed_s: float | None = None

    def accelerator_hours(self, now: float) -> float:
        """Accelerator-hours so far; a running run counts up to `now`."""
        if self.started_at is None:
            return 0.0
        if self.ended_at is not None and self.elapsed_s is not None:
            return self.accelerators * self.elapsed_s / 3600.0
        end = self.ended_at if self.ended_at is not None else now
        return self.accelerators * max(0.0, end - self.started_at) / 3600.0


def total_accelerator_hours(usages: Iterable[RunUsage], now: float) -> float:
    """The engine's own count of accelerator-hours over runs (to check the ledger against)."""
    return sum(u.accelerator_hours(now) for u in usages)


@runtime_checkable
class LogsCapable(Protocol):
    def logs(self, run_id: str) -> str: ...


@runtime_checkable
class UsageCapable(Protocol):
    def usage(self, run_ids: Sequence[str]) -> dict[str, RunUsage]: ...


def check_run_id(run_id: str) -> str:
    """Run ids travel as Slurm job names and Ray submission ids: keep them to a safe alphabet."""
    if not _RUN_ID.fullmatch(run_id):
        raise BackendError(
            f"run_id: {run_id!r} must be 1-128 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return run_id


def shell_line(command: Sequence[str] | str) -> str:
    """The command as one line for a POSIX shell: argv is quoted, a string is a shell line."""
    if isinstance(command, str):
        if not command.strip():
            raise BackendError("command: must not be empty")
        return command
    if not command:
        raise BackendError("command: must not be empty")
    return shlex.join(command)
