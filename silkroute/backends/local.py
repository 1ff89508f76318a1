"""The `local` back end: every worker of a run is a subprocess on this machine.

Each run has a state file (`<state_dir>/<run_id>.json`) written before its processes start and
updated with their process ids, so a control plane that restarts after a crash can ask what
still runs (`list_runs`) and never starts a run twice (`submit` is idempotent on the run id).
Workers start in their own process group through `local_runner`, which records the exit code
in `<workdir>/exit-<rank>` even when nobody is left to wait for it. Output goes to
`<workdir>/stdout-<rank>.log` and `<workdir>/stderr-<rank>.log`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from silkroute.backends.base import BackendError, LaunchSpec, RunState, RunStatus, worker_env

EXIT_LOST = -1000  # the wrapper died without recording an exit code (killed with the group)


@dataclass(slots=True)
class _Worker:
    pid: int
    started: str  # /proc start time: tells our process from a later one with the same pid


class LocalBackend:
    name = "local"
    capabilities = frozenset({"logs"})

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # reaped by poll
        self._lock = threading.Lock()

    # ----- the Backend protocol ---------------------------------------------------------
    def submit(self, spec: LaunchSpec) -> RunStatus:
        with self._lock:
            existing = self._read(spec.run_id)
            if existing is not None:
                return self._status(existing)
            if not spec.command:
                raise BackendError(f"run {spec.run_id}: the job has no command to run")
            # Absolute: workers start inside the workdir, and paths must mean the same there.
            spec = dataclasses.replace(
                spec, workdir=spec.workdir.resolve(), checkpoint_dir=spec.checkpoint_dir.resolve()
            )
            spec.workdir.mkdir(parents=True, exist_ok=True)
            spec.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            record: dict[str, Any] = {
                "run_id": spec.run_id,
                "job_id": spec.job_id,
                "workdir": str(spec.workdir),
                "workers": [],
                "submitted_at": time.time(),
                "started_at": None,
                "cancel_requested": False,
            }
            self._write(record)  # first: a crash from here on leaves a run we know about
            argv = _argv(spec.command)
            try:
                for rank in range(spec.world_size):
                    record["workers"].append(self._spawn(spec, rank, argv))
            except OSError as exc:
                self._kill_group(record, signal.SIGKILL)
                record["error"] = f"cannot start {argv[0]!r}: {exc.strerror}"
            record["started_at"] = time.time()
            self._write(record)
            return self._status(record)

    def poll(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        with self._lock:
            self._reap()
            out = {}
            for run_id in run_ids:
                record = self._read(run_id)
                out[run_id] = (
                    RunStatus(run_id, RunState.LOST, message="the local back end has no such run")
                    if record is None
                    else self._status(record)
                )
            return out

    def cancel(self, run_id: str, grace_s: float = 30.0) -> None:
        with self._lock:
            record = self._read(run_id)
            if record is None:
                return
            record["cancel_requested"] = True
            self._write(record)
            self._kill_group(record, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with self._lock:
                self._reap()
                if not any(self._alive(w) for w in _workers(record)):
                    return
            time.sleep(0.05)
        with self._lock:
            self._kill_group(record, signal.SIGKILL)
            self._reap()

    def list_runs(self) -> list[RunStatus]:
        with self._lock:
            self._reap()
            return [self._status(r) for r in self._records()]

    # ----- optional: logs ------------------------------------------------------------------
    def log_paths(self, run_id: str) -> list[Path]:
        """stdout then stderr of every rank, in rank order."""
        record = self._read(run_id)
        if record is None:
            return []
        workdir = Path(record["workdir"])
        ranks = range(max(1, len(record["workers"])))
        return [
            workdir / f"{stream}-{rank}.log" for rank in ranks for stream in ("stdout", "stderr")
        ]

    def forget(self, run_id: str) -> None:
        """Drop the state file of an ended run (the control plane keeps the history)."""
        with self._lock:
            record = self._read(run_id)
            if record is not None and not any(self._alive(w) for w in _workers(record)):
                self._path(run_id).unlink(missing_ok=True)

    # ----- processes -----------------------------------------------------------------------
    def _spawn(self, spec: LaunchSpec, rank: int, argv: list[str]) -> dict[str, Any]:
        env = dict(os.environ)
        env.update(worker_env(spec, rank))
        exit_file = spec.workdir / f"exit-{rank}"
        exit_file.unlink(missing_ok=True)
        with (
            open(spec.workdir / f"stdout-{rank}.log", "ab") as out,
            open(spec.workdir / f"stderr-{rank}.log", "ab") as err,
        ):
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "silkroute.backends.local_runner",
                    str(exit_file),
                    "--",
                    *argv,
                ],
                cwd=spec.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: signals reach every child
            )
        self._children[child.pid] = child
        return {"pid": child.pid, "started": _proc_start(child.pid), "exit_file": str(exit_file)}

    def _reap(self) -> None:
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]

    def _alive(self, worker: _Worker) -> bool:
        child = self._children.get(worker.pid)
        if child is not None:
            return child.poll() is None
        return _proc_start(worker.pid) == worker.started and worker.started != ""

    def _kill_group(self, record: dict[str, Any], sig: signal.Signals) -> None:
        for worker in _workers(record):
            if self._alive(worker):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, sig)

    def _status(self, record: dict[str, Any]) -> RunStatus:
        run_id = record["run_id"]
        started, submitted = record.get("started_at"), record.get("submitted_at")
        if record.get("error"):
            return RunStatus(run_id, RunState.FAILED, 127, record["error"], submitted, submitted)
        workers = _workers(record)
        if not workers:
            # Written, then the server died before any process started: nothing runs.
            return RunStatus(run_id, RunState.LOST, None, "no process was started", None, None)
        if any(self._alive(w) for w in workers):
            return RunStatus(run_id, RunState.RUNNING, started_at=started)
        codes = [_exit_code(Path(w["exit_file"])) for w in record["workers"]]
        ended = max((_mtime(Path(w["exit_file"])) for w in record["workers"]), default=None)
        if record.get("cancel_requested"):
            return RunStatus(run_id, RunState.CANCELLED, _worst(codes), "cancelled", started, ended)
        if all(code == 0 for code in codes):
            return RunStatus(run_id, RunState.SUCCEEDED, 0, "", started, ended)
        code = _worst(codes)
        message = (
            "a worker was killed before it could report"
            if code == EXIT_LOST
            else f"a worker exited with code {code}"
        )
        return RunStatus(run_id, RunState.FAILED, code, message, started, ended)

    # ----- state files -----------------------------------------------------------------------
    def _path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise BackendError(f"run id {run_id!r} is not a plain name")
        return self.state_dir / f"{run_id}.json"

    def _read(self, run_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path(run_id).read_text("utf-8"))
        except FileNotFoundError:
            return None
        return data

    def _write(self, record: dict[str, Any]) -> None:
        path = self._path(record["run_id"])
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _records(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.state_dir.glob("*.json")):
            try:
                out.append(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError):
                continue
        return out


def _argv(command: Sequence[str] | str) -> list[str]:
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def _workers(record: dict[str, Any]) -> list[_Worker]:
    return [_Worker(int(w["pid"]), str(w["started"])) for w in record["workers"]]


def _proc_start(pid: int) -> str:
    """Start time of `pid` from /proc, or "" when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return ""
    return fields[19]


def _exit_code(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return EXIT_LOST


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _worst(codes: list[int]) -> int:
    failed = [c for c in codes if c != 0]
    return failed[0] if failed else 0


def describe(command: Sequence[str] | str) -> str:
    return command if isinstance(command, str) else shlex.join(command)
