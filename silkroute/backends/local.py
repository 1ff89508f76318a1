"""The `local` back end: every worker of a run is a subprocess on this machine.

A run's state file (`<state_dir>/<run_id>.json`) is written before any process starts. Each
rank then runs under `local_runner` in its own process group, which holds an exclusive lock on
`<workdir>/lock-<rank>` for as long as it lives (taken by the back end before the fork, so there
is no moment when a rank runs unlocked), writes its pid to `started-<rank>` and its exit code to
`exit-<rank>`. From these files alone a restarted control plane knows, per rank, whether it
never started (started again by a retried `submit`, which is idempotent on the run id), still
runs, or ended: no run is started twice and none is forgotten. Output goes to
`<workdir>/stdout-<rank>.log` and `<workdir>/stderr-<rank>.log`.

A stop writes `<workdir>/stop` before it signals (a rank still starting then never starts its
command: `local_runner`). Given its agent's lease folder (`agent_lease`), every runner stops
its rank itself once the lease has run out with the agent gone, and writes
`<workdir>/fenced-<rank>`: such a run ends `cancelled` with `fenced` set, and no one sends it
a second SIGTERM (`backends/lease.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from silkroute.backends.base import BackendError, LaunchSpec, RunState, RunStatus, worker_env
from silkroute.backends.capabilities import check_run_id
from silkroute.backends.local_runner import write_atomically
from silkroute.backends.sandbox import Sandbox
from silkroute.model.inventory import NodeInventory, SiteInventory

EXIT_LOST = -1000  # the rank was killed before it could record an exit code
EXIT_NOT_STARTED = 126  # the rank's runner ended before starting the command (as a shell's 126)
# A gang fails as one: once a rank has failed, the others get SIGTERM and, this long after,
# SIGKILL (as Slurm's srun --kill-on-bad-exit and Ray's gang driver do).
GANG_STOP_GRACE_S = 10.0
STOP_FILE = "stop"  # in the run's folder: the run is being stopped (see `local_runner`)
FENCED_MESSAGE = "stopped by its runner: the agent was gone and its lease had run out"


class LocalBackend:
    name = "local"
    capabilities = frozenset({"logs"})

    def __init__(
        self,
        state_dir: Path,
        *,
        accelerator: str | None = None,
        accelerators: int = 0,
        nodes: int = 1,
        sandbox: Sandbox | None = None,
        agent_lease: Path | None = None,
    ) -> None:
        """`accelerator`, `accelerators`: what the operator says this host has per node
        (nothing detects them); `nodes`: how many nodes this host stands for in the
        inventory (1 for a real host; a demo or test site may show one host as several,
        splitting its CPUs and memory among them); `sandbox`: where set, every rank runs
        inside it (`backends/sandbox.py`); `agent_lease`: the folder where the site's agent
        keeps its lease, which every rank's runner then enforces (`backends/lease.py`)."""
        if nodes < 1:
            raise BackendError(f"nodes: {nodes} must be at least 1")
        if accelerators < 0:
            raise BackendError(f"accelerators: {accelerators} must be at least 0")
        self.accelerator, self.accelerators, self.nodes = accelerator, accelerators, nodes
        self.sandbox = sandbox
        self.agent_lease = None if agent_lease is None else Path(agent_lease).resolve()
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Runners this instance started, with the rank's folder and number: reaped by poll.
        self._children: dict[int, tuple[subprocess.Popen[bytes], Path, int]] = {}
        self._lock = threading.Lock()

    # ----- the Backend protocol ---------------------------------------------------------
    def submit(self, spec: LaunchSpec) -> RunStatus:
        check_run_id(spec.run_id)  # it names the state file: no path tricks
        # Absolute: workers start inside the workdir, and paths must mean the same there.
        spec = dataclasses.replace(
            spec, workdir=spec.workdir.resolve(), checkpoint_dir=spec.checkpoint_dir.resolve()
        )
        with self._lock:
            record = self._read(spec.run_id)
            if record is None:
                if not spec.command:
                    raise BackendError(f"run {spec.run_id}: the job has no command to run")
                record = {
                    "run_id": spec.run_id,
                    "job_id": spec.job_id,
                    "workdir": str(spec.workdir),
                    "world_size": spec.world_size,
                    "submitted_at": time.time(),
                    "cancel_requested": False,
                }
                spec.workdir.mkdir(parents=True, exist_ok=True)
                spec.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                self._write(record)  # first: from here on the run is known
            else:  # the run lives where it was recorded, whatever folder this submit names
                spec = dataclasses.replace(spec, workdir=Path(record["workdir"]))
            if not record["cancel_requested"]:
                # Ranks that never started (a first submit, or one cut short by a crash).
                for rank in range(record["world_size"]):
                    self._spawn_if_never_started(spec, rank)
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
            self._signal(record, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with self._lock:
                self._reap()
                if not any(_rank_alive(record, r) for r in range(record["world_size"])):
                    return
            time.sleep(0.05)
        with self._lock:
            self._signal(record, signal.SIGKILL)
        # SIGKILL cannot be refused; wait the moment it takes the kernel to end the group.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                self._reap()
                if not any(_rank_alive(record, r) for r in range(record["world_size"])):
                    return
            time.sleep(0.02)

    def list_runs(self) -> list[RunStatus]:
        with self._lock:
            self._reap()
            return [self._status(r) for r in self._records()]

    def inventory(self) -> SiteInventory:
        """This host: its CPUs and memory (split among `nodes`) and the configured
        accelerators; always up (the agent runs on it)."""
        host = socket.gethostname() or "localhost"
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        cpus = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
        names = [host] if self.nodes == 1 else [f"{host}-{i}" for i in range(self.nodes)]
        return SiteInventory(
            engine=self.name,
            nodes=[
                NodeInventory(
                    name=name,
                    cpus=round(cpus / self.nodes, 3),
                    memory_gib=round(memory_gib / self.nodes, 3),
                    accelerator=self.accelerator if self.accelerators else None,
                    accelerators=self.accelerators,
                )
                for name in names
            ],
        )

    # ----- optional: logs ------------------------------------------------------------------
    def log_paths(self, run_id: str) -> list[Path]:
        """stdout then stderr of every rank, in rank order."""
        record = self._read(run_id)
        if record is None:
            return []
        workdir = Path(record["workdir"])
        return [
            workdir / f"{stream}-{rank}.log"
            for rank in range(record["world_size"])
            for stream in ("stdout", "stderr")
        ]

    # ----- processes -----------------------------------------------------------------------
    def _spawn_if_never_started(self, spec: LaunchSpec, rank: int) -> None:
        workdir = spec.workdir
        if (workdir / f"started-{rank}").exists() or (workdir / f"exit-{rank}").exists():
            return
        lock_fd = os.open(workdir / f"lock-{rank}", os.O_RDWR | os.O_CREAT, 0o600)
        fds = [lock_fd]
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a runner holds it: this rank is already running
            env = inherited_environment(os.environ)
            # The platform's own environment first, as if activated: a job's `python` and
            # `silkroute` are the server's, wherever it was started from.
            env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
            env.update(worker_env(spec, rank))
            argv = _argv(spec.command)
            prefix: list[str] = []
            if self.sandbox is not None:
                # bubblewrap writes the sandbox's first pid here: the rank's process group
                # outlives a restart of this back end (see `_started_pid`).
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                info = os.open(workdir / f"sandbox-{rank}.json", flags, 0o600)
                fds.append(info)
                readable = [] if self.agent_lease is None else [self.agent_lease]
                prefix = self.sandbox.argv(workdir, spec.checkpoint_dir, info, readable)
            options = ["--stop-file", str(workdir / STOP_FILE)]
            if self.agent_lease is not None:
                options += ["--lease", str(self.agent_lease)]
                options += ["--fenced-file", str(workdir / f"fenced-{rank}")]
            with (
                open(workdir / f"stdout-{rank}.log", "ab") as out,
                open(workdir / f"stderr-{rank}.log", "ab") as err,
            ):
                try:
                    child = subprocess.Popen(
                        [
                            *prefix,
                            sys.executable,
                            "-m",
                            "silkroute.backends.local_runner",
                            str(workdir / f"started-{rank}"),
                            str(workdir / f"exit-{rank}"),
                            *options,
                            "--",
                            *argv,
                        ],
                        cwd=workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        pass_fds=tuple(fds),  # the child holds the rank's lock from birth
                        start_new_session=True,  # its own process group: signals reach children
                    )
                except ValueError as exc:  # no retry can help: an env name or argument
                    raise BackendError(f"rank {rank} cannot start: {exc}") from None
            self._children[child.pid] = (child, workdir, rank)
        finally:
            for fd in fds:
                os.close(fd)  # our copies only; the child's keep the lock

    def _reap(self) -> None:
        for pid, (child, workdir, rank) in list(self._children.items()):
            if child.poll() is None:
                continue
            del self._children[pid]
            started, exit_file = workdir / f"started-{rank}", workdir / f"exit-{rank}"
            if not started.exists() and not exit_file.exists():
                # It ended before its runner could start the command (the sandbox could not
                # be set up, the runner could not start): a failure, not a rank to start again.
                write_atomically(exit_file, str(EXIT_NOT_STARTED))

    def _signal(self, record: dict[str, Any], sig: signal.Signals) -> None:
        workdir = Path(record["workdir"])
        if sig is signal.SIGTERM:
            # First: a rank whose runner has not yet written its pid finds this and never
            # starts its command (the runner writes its pid, then looks).
            write_atomically(workdir / STOP_FILE, "")
        for rank in range(record["world_size"]):
            if sig is signal.SIGTERM and (workdir / f"fenced-{rank}").exists():
                continue  # its runner is stopping it already: a second SIGTERM would cut
                # the checkpoint short
            pid = _started_pid(record, rank)
            if pid is not None and _rank_alive(record, rank):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, sig)

    def _status(self, record: dict[str, Any]) -> RunStatus:
        run_id = record["run_id"]
        workdir = Path(record["workdir"])
        ranks = range(record["world_size"])
        started = [workdir / f"started-{r}" for r in ranks]
        started_at = min((_mtime(p) for p in started if p.exists()), default=None)
        alive = [r for r in ranks if _rank_alive(record, r)]  # first: a live rank's files
        fenced = any((workdir / f"fenced-{r}").exists() for r in ranks)
        exits = [workdir / f"exit-{r}" for r in ranks]
        # Never started: no runner holds its lock and none recorded a start or an exit (a
        # rank that ended before its runner started the command has an exit and no start).
        # Only a submit cut short leaves one: this instance's submits hold `_lock` throughout.
        cut_short = not record["cancel_requested"] and any(
            r not in alive and not started[r].exists() and not exits[r].exists() for r in ranks
        )
        if alive:
            if not record["cancel_requested"] and not fenced:
                self._stop_gang_if_a_rank_failed(record, workdir, alive)
            return RunStatus(
                run_id, RunState.RUNNING, started_at=started_at, submit_cut_short=cut_short
            )
        if not all(s.exists() or e.exists() for s, e in zip(started, exits, strict=True)):
            if record["cancel_requested"]:
                return RunStatus(run_id, RunState.CANCELLED, None, "cancelled", None, None)
            return RunStatus(
                run_id,
                RunState.QUEUED,
                message="not every rank has started",
                submit_cut_short=cut_short,
            )
        codes = [_exit_code(p) for p in exits]
        ended = max((_mtime(p) for p in exits if p.exists()), default=time.time())
        if fenced:
            return RunStatus(
                run_id, RunState.CANCELLED, _worst(codes), FENCED_MESSAGE, started_at, ended, True
            )
        if record["cancel_requested"]:
            return RunStatus(
                run_id, RunState.CANCELLED, _worst(codes), "cancelled", started_at, ended
            )
        if all(code == 0 for code in codes):
            return RunStatus(run_id, RunState.SUCCEEDED, 0, "", started_at, ended)
        failure = record.get("gang_failure")
        if failure is not None:  # the others were stopped because of this rank
            code, rank = failure["code"], failure["rank"]
            message = f"worker {rank} exited with code {code}; the rest of the gang was stopped"
            return RunStatus(run_id, RunState.FAILED, code, message, started_at, ended)
        code = _worst(codes)
        if code == EXIT_LOST:
            message = "a worker was killed before it could report"
        elif code == 127:
            message = "the command was not found (exit code 127)"
        elif code == EXIT_NOT_STARTED:
            message = "a worker could not be started (its stderr log says why)"
        else:
            message = f"a worker exited with code {code}"
        return RunStatus(run_id, RunState.FAILED, code, message, started_at, ended)

    def _stop_gang_if_a_rank_failed(
        self, record: dict[str, Any], workdir: Path, alive: list[int]
    ) -> None:
        failure = record.get("gang_failure")
        if failure is None:
            for rank in range(record["world_size"]):
                exit_file = workdir / f"exit-{rank}"
                if rank in alive or not exit_file.exists():
                    continue
                code = _exit_code(exit_file)
                if code != 0:
                    failure = {"rank": rank, "code": code, "at": time.time()}
                    break
            if failure is None:
                return
            record["gang_failure"] = failure
            self._write(record)
            self._signal(record, signal.SIGTERM)
        elif time.time() - failure["at"] > GANG_STOP_GRACE_S:
            self._signal(record, signal.SIGKILL)

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


# What a job inherits from the process that starts it: what a program needs to run (the
# search paths, the locale, the time zone, a home and a temporary folder), never the
# platform's own variables (`SILKROUTE_AGENT_TOKEN`, a database URL with its password, a
# cloud key), which a job printing its environment would put in its tenant's logs. Slurm's
# `--export=NONE` does the same for the Slurm back end; the job's `env` adds what it needs.
INHERITED_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "TMPDIR", "LANG", "LANGUAGE"}
    | {"LD_LIBRARY_PATH", "PYTHONPATH"}
)


def inherited_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` a job inherits: `INHERITED_VARIABLES` and the locale's
    `LC_*`."""
    return {k: v for k, v in environ.items() if k in INHERITED_VARIABLES or k.startswith("LC_")}


def _argv(command: Sequence[str] | str) -> list[str]:
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def _rank_alive(record: dict[str, Any], rank: int) -> bool:
    """A rank runs while its runner holds the rank's lock (whoever started it)."""
    path = Path(record["workdir"]) / f"lock-{rank}"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if we got it
    return False


def _started_pid(record: dict[str, Any], rank: int) -> int | None:
    """The rank's process group: the runner's pid (it leads its group), or, in a sandbox,
    whose PID namespace hides the runner's real pid, the group of the sandbox's first process
    as bubblewrap reported it."""
    workdir = Path(record["workdir"])
    try:
        info = json.loads((workdir / f"sandbox-{rank}.json").read_text())
    except FileNotFoundError:
        info = None
    except (OSError, ValueError):
        return None
    if info is not None:
        try:
            return os.getpgid(int(info["child-pid"]))
        except (KeyError, TypeError, ValueError, ProcessLookupError):
            return None
    try:
        return int((workdir / f"started-{rank}").read_text().strip())
    except (OSError, ValueError):
        return None


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
