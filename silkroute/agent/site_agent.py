"""The site agent: carries out what the control plane assigned to one site on its own engine.

Each round (`run_once`): heartbeat when due, read the site's assignments (pull: the site needs
no inbound port), ask the engine about them, decide with `reconcile` (submit what never
started, stop what must stop, cancel orphans, report every change once), ship new log output,
then report. Submits and stops run in worker threads so a slow `sbatch` or a grace period
never delays heartbeats; a run with an operation in flight sits out the rounds until it ends.

The same class serves a remote site (`silkroute agent`, over HTTP: `agent.http`) and the
control plane's embedded local execution (`agent.embedded`, in-process): one path from a
decision to an engine and back.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from silkroute.agent.reconcile import DesiredRun, Intent, reconcile
from silkroute.backends.base import (
    Backend,
    BackendError,
    LaunchSpec,
    RunState,
    RunStatus,
    WorkerPlacement,
)
from silkroute.backends.lease import ALIVE_FILE, touch_alive
from silkroute.backends.local_runner import write_atomically

log = logging.getLogger("silkroute.agent")
LOG_CHUNK = 256 * 1024  # bytes per shipped log chunk
MAX_FINAL_LOG = 64 << 20  # bytes shipped for a run that just ended, at most
STREAMS = ("stdout", "stderr")


class ControlPlane(Protocol):
    """What an agent asks of the control plane (HTTP for remote sites, calls in-process)."""

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def assignments(self) -> list[dict[str, Any]]: ...

    def report(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def ship_log(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(slots=True)
class AgentStats:
    rounds: int = 0
    submitted: int = 0
    cancelled: int = 0
    reports: int = 0
    errors: int = 0
    last_error: str = ""


@dataclass
class SiteAgent:
    """`work_dir`: run folders (`<work_dir>/<run_id>`); `checkpoint_root`: checkpoint folders,
    one per job, kept across attempts (give every site of a job one it can reach to resume a
    job elsewhere); `orphan_scan_s`: how often the engine's whole list is checked for runs
    the control plane no longer wants."""

    site: str
    backend: Backend
    control: ControlPlane
    work_dir: Path
    checkpoint_root: Path
    # Register the engine's inventory (and again whenever it changes); the embedded agents
    # do not: their sites are what the operator declared.
    report_inventory: bool = True
    inventory_s: float = 2.0  # the engine is asked for its inventory this often, at most
    heartbeat_s: float = 2.0
    orphan_scan_s: float = 5.0
    log_interval_s: float = 0.5
    # The lease (learned from each heartbeat's answer; None: none, as for the embedded
    # agents): out of reach of the control plane this long, the agent stops every run its
    # engine holds (SIGTERM, `fence_grace_s`, kill), because the control plane will start
    # their jobs elsewhere once the lease and the grace have passed.
    lease_s: float | None = None
    fence_grace_s: float = 10.0
    # Where the lease is kept across restarts of the agent (None: not kept): an agent that
    # restarts while the control plane is out of reach still stops its runs in time. Its
    # folder also holds `alive`, touched by the lease thread, by which the local engine's
    # runners tell a dead agent from a live one (`backends/lease.py`).
    lease_file: Path | None = None
    stats: AgentStats = field(default_factory=AgentStats)

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir).resolve()
        self.checkpoint_root = Path(self.checkpoint_root).resolve()
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"agent-{self.site}")
        self._busy: set[str] = set()  # run ids with a submit or a stop in flight
        self._refused: dict[str, str] = {}  # run id -> the engine's reason (submit failed)
        self._lock = threading.Lock()
        self._last_heartbeat = float("-inf")
        self._last_scan = float("-inf")
        self._registered = False
        self._sent_inventory: dict[str, Any] | None = None  # as the control plane has it
        self._inventory_failing = False
        self._inventory_at = float("-inf")
        self._last_inventory: dict[str, Any] | None = None
        self._last_logs: dict[str, float] = {}
        self._log_files: dict[str, list[Path]] = {}
        self.wake = threading.Event()  # set by a finished operation: look again at once
        # When the last call that the control plane records as word from us (a heartbeat or
        # a report) was sent: the lease runs from there, never from its answer, so it ends
        # here no later than the control plane's count from when it heard us.
        self._lease_from = float("-inf")
        self._fenced: set[str] = set()  # runs stopped because the lease ran out
        self._lease_saved = float("-inf")
        self._load_lease()

    # ----- one round ------------------------------------------------------------------------
    def run_once(self) -> None:
        self.stats.rounds += 1
        self._heartbeat()
        wanted = {a["run_id"]: a for a in self.control.assignments()}
        with self._lock:
            busy = set(self._busy)
            refused = dict(self._refused)
        for run_id, reason in refused.items():
            self._report(run_id, RunStatus(run_id, RunState.FAILED, None, reason), True)
            with self._lock:
                self._refused.pop(run_id, None)
        live = {k: a for k, a in wanted.items() if k not in busy and k not in refused}
        observed = self._observe(list(live), set(wanted))
        desired = [self._desired(a) for a in live.values()]
        grace = max((a["grace_s"] for a in wanted.values()), default=30.0)
        plan = reconcile(desired, list(observed.values()), orphan_grace_s=grace)
        ended = {s.run_id for s in plan.reports if s.state.terminal}
        for run_id in live:
            if run_id in observed:
                self._ship_logs(live[run_id], final=run_id in ended)
        for status in plan.reports:
            self._report(status.run_id, status, False)
        for cancel in plan.cancels:
            self._start(cancel.run_id, self._cancel, cancel.run_id, cancel.grace_s)
        for spec in plan.submits:
            self._start(spec.run_id, self._submit, spec)
        for held in plan.held:
            log.info("run %s held: %s", held.run_id, held.reason)

    def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < self.heartbeat_s:
            return
        body: dict[str, Any] = {"backend": self.backend.name, "registering": not self._registered}
        inventory = self._inventory()
        if inventory is not None and inventory != self._sent_inventory:
            body["inventory"] = inventory  # on registering and on a change, not every beat
        sent = time.monotonic()
        answer = self.control.heartbeat(body)
        lease = answer.get("lease_s")
        self.lease_s = float(lease) if isinstance(lease, int | float) else None
        self.fence_grace_s = float(answer.get("grace_s", self.fence_grace_s))
        self._renew(sent)
        if not self._registered and self.lease_s is not None:
            overrun = self._engine_overrun_s()
            if overrun > self.lease_s / 2:
                log.warning(
                    "site %s: the engine stops a run up to %.0f s after the control plane's "
                    "grace (%g s); with a lease of %g s a run may outlive it: keep the "
                    "engine's grace (--ray-grace) at most %g s",
                    self.site,
                    overrun,
                    self.fence_grace_s,
                    self.lease_s,
                    self.fence_grace_s + self.lease_s / 2,
                )
        self._registered = True
        self._last_heartbeat = time.monotonic()
        self.heartbeat_s = float(answer.get("heartbeat_s", self.heartbeat_s))
        if "inventory" in body:
            self._sent_inventory = inventory
        if answer.get("inventory_stored") is False:
            self._sent_inventory = None  # the control plane lost it: send it again next time

    # ----- the lease -------------------------------------------------------------------------
    def _renew(self, sent: float) -> None:
        with self._lock:
            expired = self._lease_expired() and self._lease_from > float("-inf")
            self._lease_from = max(self._lease_from, sent)
        if expired:
            log.warning("site %s: the control plane answers again; lease renewed", self.site)
        if time.monotonic() - self._lease_saved >= 1.0:
            self._save_lease()

    def _save_lease(self) -> None:
        """The lease, for a restarted agent: its start as a wall-clock time (the monotonic
        clock restarts with the machine). Saved at most once a second, so the saved start
        may be up to a second early: the restarted agent then fences early, never late."""
        if self.lease_file is None or self.lease_s is None:
            return
        self._lease_saved = time.monotonic()
        with self._lock:
            since = time.monotonic() - self._lease_from
        lease = {"lease_s": self.lease_s, "grace_s": self.fence_grace_s}
        lease["renewed_at"] = time.time() - since
        try:
            write_atomically(self.lease_file, json.dumps(lease))
        except OSError as exc:  # a full disk must not stop the rounds
            log.warning("site %s: cannot keep the lease in %s: %s", self.site, self.lease_file, exc)

    def _load_lease(self) -> None:
        """A lease a previous run of this agent held: it runs on from when it was renewed."""
        if self.lease_file is None or not self.lease_file.exists():
            return
        try:
            lease = json.loads(self.lease_file.read_text())
            lease_s, grace_s = float(lease["lease_s"]), float(lease["grace_s"])
            renewed_at = float(lease["renewed_at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("site %s: ignoring the kept lease %s: %s", self.site, self.lease_file, exc)
            return
        self.lease_s, self.fence_grace_s = lease_s, grace_s
        self._lease_from = time.monotonic() - max(0.0, time.time() - renewed_at)

    def _lease_expired(self) -> bool:
        fence_after = self.fence_after_s()
        return fence_after is not None and time.monotonic() - self._lease_from >= fence_after

    def fence_after_s(self) -> float | None:
        """Silence after which the agent stops its runs: the lease, less what the engine's
        own stop takes beyond the control plane's grace (Ray fixes its wait per job,
        `--ray-grace`), so every run is gone by the lease plus that grace. At least half
        the lease (`_heartbeat` warns when that is not enough)."""
        if self.lease_s is None:
            return None
        return max(self.lease_s / 2, self.lease_s - self._engine_overrun_s())

    def _engine_overrun_s(self) -> float:
        engine_grace = getattr(self.backend, "max_grace_s", None)
        if not isinstance(engine_grace, int | float):
            return 0.0
        return max(0.0, float(engine_grace) - self.fence_grace_s)

    def say_alive(self) -> None:
        """Touch `alive` next to the kept lease (from the lease thread, so it says that the
        thread that would fence is running, whether or not the control plane answers)."""
        if self.lease_file is None:
            return
        try:
            touch_alive(self.lease_file.parent)
        except OSError as exc:  # a full disk must not stop the lease check
            log.warning("site %s: cannot touch %s: %s", self.site, ALIVE_FILE, exc)

    def lease_check_s(self) -> float:
        """How often `check_lease` should look (a tenth of the lease, at most 1 s)."""
        return 1.0 if self.lease_s is None else min(1.0, max(0.05, self.lease_s / 10))

    def check_lease(self) -> bool:
        """Once no heartbeat or report has reached the control plane for `lease_s`, stop
        every run the engine still holds (self-fencing: the control plane, which cannot hear
        us, will start their jobs elsewhere after the lease and the grace). Called from its
        own thread (`serve`), so a hung call to the control plane cannot delay it. Returns
        whether the lease has run out."""
        with self._lock:
            if not self._lease_expired():
                return False
            silent = time.monotonic() - self._lease_from
        for status in self.backend.list_runs():
            if status.state.terminal:
                continue
            with self._lock:
                first = status.run_id not in self._fenced
                self._fenced.add(status.run_id)
            if first:
                log.warning(
                    "site %s: no word from the control plane for %.1f s (lease %g s): "
                    "stopping run %s",
                    self.site,
                    silent,
                    self.lease_s,
                    status.run_id,
                )
            self._start(status.run_id, self._cancel, status.run_id, self.fence_grace_s)
        return True

    def _inventory(self) -> dict[str, Any] | None:
        """What the engine reports now; None if it cannot say (the last one stands)."""
        if not self.report_inventory:
            return None
        if time.monotonic() - self._inventory_at < self.inventory_s and self._registered:
            return self._last_inventory
        self._inventory_at = time.monotonic()
        try:
            inventory = self.backend.inventory().model_dump(mode="json")
        except Exception as exc:  # an engine that cannot list its nodes must not stop beats
            if not self._inventory_failing:
                log.warning("site %s: the engine's inventory failed: %s", self.site, exc)
            self._inventory_failing = True
            return None
        if self._inventory_failing:
            log.info("site %s: the engine's inventory answers again", self.site)
        self._inventory_failing = False
        self._last_inventory = inventory
        return inventory

    def _observe(self, run_ids: list[str], assigned: set[str]) -> dict[str, RunStatus]:
        """The engine's view of the assigned runs this round decides on (`run_ids`), and
        (every `orphan_scan_s`) of every other run of ours it holds that is not assigned
        (`assigned`: all of them, those sitting out this round too): the orphans. A run the
        engine does not know is left out: `reconcile` decides whether that means "never
        submitted" or "lost"."""
        observed = {}
        if run_ids:
            for run_id, status in self.backend.poll(run_ids).items():
                if status.state is not RunState.LOST:
                    observed[run_id] = status
        if time.monotonic() - self._last_scan >= self.orphan_scan_s:
            self._last_scan = time.monotonic()
            # An assigned run that sits out this round (its submit was in flight when the
            # round began, and may have finished since) is no orphan, whatever the engine
            # says of it now.
            with self._lock:
                not_orphans = assigned | self._busy
            for status in self.backend.list_runs():
                if status.run_id not in observed and status.run_id not in not_orphans:
                    observed[status.run_id] = status
        return observed

    def _desired(self, assignment: dict[str, Any]) -> DesiredRun:
        last = assignment.get("last_reported")
        return DesiredRun(
            run_id=assignment["run_id"],
            job_id=assignment["job_id"],
            intent=Intent(assignment["intent"]),
            spec=self.launch_spec(assignment),
            last_reported=RunState(last) if last else None,
            grace_s=float(assignment["grace_s"]),
        )

    def launch_spec(self, a: dict[str, Any]) -> LaunchSpec:
        command = a["command"]
        return LaunchSpec(
            run_id=a["run_id"],
            job_id=a["job_id"],
            attempt=int(a["attempt"]),
            command=command if isinstance(command, str) else list(command),
            workers=[WorkerPlacement(node, tuple(devices)) for node, devices in a["workers"]],
            workdir=self.work_dir / a["run_id"],
            checkpoint_dir=self.checkpoint_root / a["checkpoint"],
            env=dict(a.get("env") or {}),
            site=a["site"],
            accelerator_type=a.get("accelerator_type"),
            accelerators_per_worker=float(a.get("accelerators_per_worker") or 0.0),
            cpu_per_worker=float(a.get("cpu_per_worker") or 1.0),
            memory_gib_per_worker=float(a.get("memory_gib_per_worker") or 1.0),
            time_limit_s=a.get("time_limit_s"),
        )

    # ----- engine operations, in worker threads -------------------------------------------------
    def _start(self, run_id: str, operation: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if run_id in self._busy:
                return
            self._busy.add(run_id)

        def run() -> None:
            try:
                operation(*args)
            except Exception as exc:  # reported through the next round, never lost
                log.exception("run %s: %s failed", run_id, operation.__name__)
                self.stats.errors += 1
                self.stats.last_error = str(exc)
            finally:
                with self._lock:
                    self._busy.discard(run_id)
                self.wake.set()

        self._workers.submit(run)

    def _submit(self, spec: LaunchSpec) -> None:
        try:
            # The run's folders, where the agent's file system is the engine's (Ray's workers
            # start in the workdir; Slurm and local make their own too).
            spec.workdir.mkdir(parents=True, exist_ok=True)
            spec.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            self.backend.submit(spec)
            self.stats.submitted += 1
        except (BackendError, OSError) as exc:
            with self._lock:
                self._refused[spec.run_id] = str(exc) or "the engine refused the run"

    def _cancel(self, run_id: str, grace_s: float) -> None:
        self.backend.cancel(run_id, grace_s)
        self.stats.cancelled += 1

    # ----- talking back ---------------------------------------------------------------------
    def _report(self, run_id: str, status: RunStatus, launch_failed: bool) -> None:
        with self._lock:
            fenced = (run_id in self._fenced or status.fenced) and status.state.terminal
        message = status.message
        if fenced and not status.fenced and status.state is not RunState.SUCCEEDED:
            message = "stopped by its agent: its lease ran out with no word from the control plane"
        body = {
            "state": status.state.value,
            "exit_code": status.exit_code,
            "message": message,
            "started_at": status.started_at,
            "ended_at": status.ended_at,
            "launch_failed": launch_failed,
            "fenced": fenced,
        }
        sent = time.monotonic()
        self.control.report(run_id, body)
        self._renew(sent)
        if fenced:
            with self._lock:
                self._fenced.discard(run_id)
        self.stats.reports += 1

    def _ship_logs(self, assignment: dict[str, Any], final: bool) -> None:
        """New output since what the control plane has (its offsets come with the assignment);
        every `log_interval_s` while the run lives, everything once it has ended."""
        run_id = assignment["run_id"]
        now = time.monotonic()
        if not final and now - self._last_logs.get(run_id, float("-inf")) < self.log_interval_s:
            return
        self._last_logs[run_id] = now
        offsets: dict[str, int] = assignment.get("log_offsets") or {}
        for stream in STREAMS:
            data = self._log_bytes(run_id, stream, offsets.get(stream, 0), final)
            offset = offsets.get(stream, 0)
            for start in range(0, len(data), LOG_CHUNK):
                chunk = data[start : start + LOG_CHUNK]
                body = {
                    "stream": stream,
                    "offset": offset + start,
                    "data": base64.b64encode(chunk).decode("ascii"),
                }
                self.control.ship_log(run_id, body)
        if final:
            self._last_logs.pop(run_id, None)
            self._log_files.pop(run_id, None)

    def _log_bytes(self, run_id: str, stream: str, offset: int, final: bool) -> bytes:
        limit = MAX_FINAL_LOG if final else LOG_CHUNK * 4
        path = self._log_file(run_id, stream)
        if path is not None:
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    return handle.read(limit)
            except OSError:
                return b""
        logs = getattr(self.backend, "logs", None)
        if stream == "stdout" and logs is not None and "logs" in self.backend.capabilities:
            text: str = logs(run_id)  # engines without files (Ray): every rank, one stream
            return text.encode("utf-8", "replace")[offset : offset + limit]
        return b""

    def _log_file(self, run_id: str, stream: str) -> Path | None:
        """Rank 0's file (or the run's one file, where the engine merges ranks)."""
        paths = self._log_files.get(run_id)
        log_paths = getattr(self.backend, "log_paths", None)
        if paths is None and log_paths is not None:
            paths = list(log_paths(run_id))
            if paths:
                self._log_files[run_id] = paths
        return next((p for p in paths or [] if p.name.startswith(f"{stream}-")), None)

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)


def serve(agent: SiteAgent, stop: threading.Event, interval_s: float) -> None:
    """Rounds until `stop`: every `interval_s`, or at once when an operation finished. A
    control plane out of reach is retried; the engine's runs go on meanwhile, until the
    lease runs out (`SiteAgent.check_lease`, watched from a thread of its own)."""
    watch = threading.Thread(
        target=_watch_lease, args=(agent, stop), name=f"lease-{agent.site}", daemon=True
    )
    watch.start()
    failing = False
    while not stop.is_set():
        try:
            agent.run_once()
            if failing:
                log.warning("site %s: the control plane answers again", agent.site)
            failing = False
        except Exception as exc:
            agent.stats.errors += 1
            agent.stats.last_error = str(exc)
            if not failing:
                log.warning("site %s: round failed (%s); retrying", agent.site, exc)
            failing = True
        agent.wake.wait(interval_s)
        agent.wake.clear()


def _watch_lease(agent: SiteAgent, stop: threading.Event) -> None:
    agent.say_alive()
    while not stop.wait(agent.lease_check_s()):
        agent.say_alive()
        try:
            agent.check_lease()
        except Exception:  # an engine that fails to answer: look again next time
            log.exception("site %s: the lease check failed", agent.site)
