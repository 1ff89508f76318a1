"""The live loop: the only writer of job states after submission.

Each pass (on an event — submit, cancel, a run ending — or every `tick_s`): take in new jobs,
carry out cancels, collect runs that ended, run one scheduling step and commit its decisions
(each with the job's state change, in one transaction), then launch what was committed. A
run is committed as `launching` before the back end hears of it, and back ends are idempotent
on the run id, so a crash between the two is repaired by launching again at start-up; a run is
never launched while another run of the same job is still alive.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from silkroute.backends.base import (
    Backend,
    BackendError,
    LaunchSpec,
    RunState,
    RunStatus,
    WorkerPlacement,
)
from silkroute.control import accounting, governance
from silkroute.control.scheduling import (
    HoldJob,
    LiveDecision,
    LiveScheduler,
    PreemptJob,
    StartJob,
    tenant_specs,
)
from silkroute.model.cluster import SiteSpec
from silkroute.model.job import JobSpec
from silkroute.store.audit import audited, checkpoint, record
from silkroute.store.db import Store
from silkroute.store.models import (
    JobEventRow,
    JobRow,
    NodeStateRow,
    RunRow,
    SiteRow,
    TenantRow,
)

log = logging.getLogger("silkroute.control")

ACTIVE_JOB_STATES = ("pending", "starting", "running", "terminating")
TERMINAL_JOB_STATES = ("succeeded", "failed", "cancelled")
LIVE_RUN_STATES = ("launching", "running", "stopping")


DECISION_KINDS = {StartJob: "start", PreemptJob: "preempt", HoldJob: "hold"}


@dataclass(slots=True)
class LoopStats:
    passes: int = 0
    decisions: int = 0
    last_step_s: float = 0.0
    decision_counts: dict[str, int] = field(default_factory=dict)


class ControlLoop:
    def __init__(
        self,
        store: Store,
        backend: Backend,
        runs_dir: Path,
        tick_s: float = 1.0,
        grace_s: float = 10.0,
    ) -> None:
        self.store = store
        self.backend = backend
        self.runs_dir = Path(runs_dir)
        self.tick_s = tick_s
        self.grace_s = grace_s
        self.stats = LoopStats()
        self.scheduler = LiveScheduler([], [])
        self.sweep_s = 5.0
        self.poll_s = 0.25  # how often running runs are asked whether they ended
        self._last_poll = 0.0
        self._cancel_hint = threading.Event()  # the API recorded a cancel request
        self._stop_done = threading.Event()  # a stop (SIGTERM, grace, kill) finished
        self.coalesce_s = 0.01
        self._last_sweep = time.monotonic()
        self._submitted: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._given: dict[int, tuple[JobSpec, float]] = {}  # specs the API handed over
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._rebuild = threading.Event()
        self._governance = threading.Event()  # datasets or grants changed
        self._nodes_hint = threading.Event()  # an operator drained or removed nodes
        self._drained: set[str] = set()  # node states the book carries out now
        self._removed: set[str] = set()
        self.audit_key: Ed25519PrivateKey | None = None  # signs audit checkpoints
        self.operator_policies: str | None = None  # the operator's Cedar policies (text)
        self.checkpoint_s = 60.0
        self._last_checkpoint = time.monotonic()
        self._governance_day = dt.date.min
        self._lock = threading.Lock()  # one pass at a time (the thread, or tests calling run_once)
        self._thread: threading.Thread | None = None
        self._stoppers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="silkroute-stop")
        self._stopping: set[str] = set()
        self._launchers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="silkroute-launch")
        self._launching: set[str] = set()  # run ids a launcher thread is starting
        self._launched: queue.SimpleQueue[tuple[str, RunStatus, str | None]] = queue.SimpleQueue()

    # ----- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._rebuild_book()
            self._reconcile()
        self._cancel_hint.set()
        self._thread = threading.Thread(target=self._run, name="silkroute-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            with self._lock:
                self._checkpoint_audit(force=True)
        except Exception:  # a database gone at shutdown must not hide the real error
            log.exception("final audit checkpoint failed")
        self._stoppers.shutdown(wait=False, cancel_futures=True)
        self._launchers.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def request_rebuild(self) -> None:
        """Sites or tenants changed: rebuild the book from the store on the next pass."""
        self._rebuild.set()
        self._wake.set()

    def governance_changed(self) -> None:
        """Datasets or grants changed: the data law is re-read on the next pass."""
        self._governance.set()
        self._wake.set()

    def _refresh_governance(self) -> None:
        """New datasets or grants, or a new day (rules are read at a date): re-read them."""
        day = governance.today()
        if not self._governance.is_set() and day == self._governance_day:
            return
        self._governance.clear()
        with self.store.session() as session:
            self.scheduler.use_governance(
                governance.load_governance(session, day, operator=self.operator_policies)
            )
        self._governance_day = day

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            # Events that arrive together are served by one pass (a burst of submits costs
            # one scheduling step, not one each); a lone event waits at most this long.
            self._stop.wait(self.coalesce_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # the loop must outlive one bad pass; the next one retries
                log.exception("control loop pass failed")

    def run_once(self, now: float | None = None) -> None:
        with self._lock:
            if self._rebuild.is_set():
                self._rebuild.clear()
                self._rebuild_book()
            self._refresh_governance()
            self._take_new_jobs()
            self._apply_node_states(time.time() if now is None else now)
            self._carry_out_cancels()
            self._finish_launches()
            self._collect_ended_runs()
            self._schedule(time.time() if now is None else now)
            self._launch()
            self._checkpoint_audit()
            self.stats.passes += 1

    def _checkpoint_audit(self, force: bool = False) -> None:
        """Sign the audit log's tree every `checkpoint_s` (if it grew)."""
        if self.audit_key is None:
            return
        if not force and time.monotonic() - self._last_checkpoint < self.checkpoint_s:
            return
        self._last_checkpoint = time.monotonic()
        checkpoint(self.store, self.audit_key)

    # ----- start-up -------------------------------------------------------------------------
    def _rebuild_book(self) -> None:
        """The book as the store describes it: sites, tenants, queued and running jobs."""
        with self.store.session() as session:
            sites = [SiteSpec.model_validate(r.spec) for r in session.scalars(select(SiteRow))]
            tenants = tenant_specs(
                (r.spec(), accounting.voucher_hours_used(session, r.name))
                for r in session.scalars(select(TenantRow))
            )
            self._governance.clear()
            self._governance_day = governance.today()
            scheduler = LiveScheduler(
                sorted(sites, key=lambda s: s.name),
                tenants,
                governance=governance.load_governance(
                    session, self._governance_day, operator=self.operator_policies
                ),
            )
            jobs = session.scalars(
                select(JobRow).where(JobRow.state.in_(ACTIVE_JOB_STATES)).order_by(JobRow.id)
            ).all()
            runs = {
                r.run_id: r
                for r in session.scalars(select(RunRow).where(RunRow.state.in_(LIVE_RUN_STATES)))
            }
            for job in jobs:
                spec = JobSpec.model_validate(job.spec)
                run = runs.get(job.current_run or "")
                holds = run is not None and run.state in ("launching", "running")
                if job.state in ("starting", "running") and holds and run is not None:
                    placed = [(n, list(d)) for n, d in run.placement]
                    ok = scheduler.add_running(
                        job.id, spec, job.submitted_at, run.started_at or run.created_at, placed
                    )
                    if not ok:
                        log.warning("job %s runs on nodes no longer registered", job.id)
                elif job.state == "pending" or (
                    job.state == "terminating" and not job.cancel_requested
                ):
                    scheduler.add_pending(job.id, spec, job.submitted_at)
        self.scheduler = scheduler
        self._drained, self._removed = set(), set()
        self._nodes_hint.set()  # drains and removals are applied to the new book next

    def _reconcile(self) -> None:
        """Stop engine runs the store does not count as alive (crash leftovers)."""
        with self.store.session() as session:
            alive = set(
                session.scalars(select(RunRow.run_id).where(RunRow.state.in_(LIVE_RUN_STATES)))
            )
            stopping = list(
                session.scalars(select(RunRow.run_id).where(RunRow.state == "stopping"))
            )
        for run_id in stopping:  # the stop was under way when the server went down
            self._stop_async(run_id)
        for status in self.backend.list_runs():
            if not status.state.terminal and status.run_id not in alive:
                log.warning("stopping run %s: the store does not know it as live", status.run_id)
                self._stop_async(status.run_id)

    # ----- one pass -------------------------------------------------------------------------
    def cancel_requested(self) -> None:
        """The API recorded a cancel: look at cancel requests on the next pass."""
        self._cancel_hint.set()
        self._wake.set()

    def nodes_changed(self) -> None:
        """An operator drained, undrained or removed nodes (stored): apply on the next pass."""
        self._nodes_hint.set()
        self._wake.set()

    def _apply_node_states(self, now: float) -> None:
        """Bring the book to the stored node states; runs on removed nodes are stopped and
        their jobs requeued (as a preemption: back to pending once the run has stopped)."""
        if not self._nodes_hint.is_set():
            return
        self._nodes_hint.clear()
        with self.store.session() as session:
            rows = session.execute(select(NodeStateRow.node, NodeStateRow.state)).all()
            drained = {node for node, state in rows if state == "drained"}
            removed = {node for node, state in rows if state == "removed"}
            self.scheduler.drain_nodes(self._drained - drained, drained=False)
            self.scheduler.drain_nodes(drained - self._drained)
            requeued = self.scheduler.remove_nodes(removed - self._removed, now)
            self._drained, self._removed = drained, removed
            for job in session.scalars(select(JobRow).where(JobRow.id.in_(requeued))):
                self._commit_preempt(session, job, PreemptJob(job.id, "node removed", None), now)

    def submitted(
        self, job_id: int, spec: JobSpec | None = None, submitted_at: float | None = None
    ) -> None:
        """The API committed a new job: take it in on the next pass (thread-safe). With its
        spec and submit time the loop need not read and re-validate what the API just did."""
        if spec is not None and submitted_at is not None:
            self._given[job_id] = (spec, submitted_at)
        self._submitted.put(job_id)
        self._wake.set()

    def _take_new_jobs(self) -> None:
        """Jobs the API reported, and every `sweep_s` any pending job the book lacks.

        A high-water mark of ids would skip jobs on PostgreSQL, where ids are handed out at
        insert but transactions commit in any order; so new jobs are named, not inferred.
        """
        given: dict[int, tuple[JobSpec, float] | None] = {}
        while not self._submitted.empty():
            job_id = self._submitted.get_nowait()
            given[job_id] = self._given.pop(job_id, None)
        now = time.monotonic()
        sweep = now - self._last_sweep >= self.sweep_s
        known = self.scheduler.jobs
        wanted = given.keys() - known.keys()
        if not wanted and not sweep:
            return
        with self.store.session() as session:
            if sweep:  # ids first: the specs of jobs the book has already are not re-read
                pending = session.scalars(select(JobRow.id).where(JobRow.state == "pending"))
                wanted |= set(pending) - known.keys()
            rows: list[tuple[int, JobSpec, float]] = []
            ordered = sorted(wanted)
            for start in range(0, len(ordered), 5000):  # below every database's variable limit
                chunk = ordered[start : start + 5000]
                # Still pending (not cancelled meanwhile): ids only for the jobs handed over.
                still = set(
                    session.scalars(
                        select(JobRow.id).where(JobRow.state == "pending", JobRow.id.in_(chunk))
                    )
                )
                unread = []
                for job_id in chunk:
                    handed = given.get(job_id)
                    if job_id in still and handed is not None:
                        rows.append((job_id, *handed))
                    elif job_id in still:
                        unread.append(job_id)
                if unread:
                    for job_id, spec, submitted_at in session.execute(
                        select(JobRow.id, JobRow.spec, JobRow.submitted_at).where(
                            JobRow.id.in_(unread)
                        )
                    ):
                        rows.append((job_id, JobSpec.model_validate(spec), submitted_at))
        if sweep:
            self._last_sweep = now
            self._cancel_hint.set()  # and look for cancel requests the hints missed
        for job_id, job_spec, submitted_at in sorted(rows, key=lambda r: r[0]):
            if job_id not in known:
                self.scheduler.add_pending(job_id, job_spec, submitted_at)

    def _carry_out_cancels(self) -> None:
        # Only when told (or at each sweep): a query per pass would tax every decision.
        if not self._cancel_hint.is_set():
            return
        self._cancel_hint.clear()
        now = time.time()
        with audited(self.store) as session:
            jobs = session.scalars(
                select(JobRow).where(
                    JobRow.cancel_requested.is_(True), JobRow.state.in_(ACTIVE_JOB_STATES)
                )
            ).all()
            for job in jobs:
                if job.state != "terminating":
                    detail = {"tenant": job.tenant, "state": job.state, "site": job.site}
                    record(session, "cancel", f"tenant:{job.tenant}", f"job/{job.id}", detail)
                if job.state == "pending":
                    self.scheduler.ended(job.id, now, succeeded=False)
                    _transition(session, job, "cancelled", now, "cancelled", "cancelled by request")
                    job.ended_at = now
                    continue
                run = session.get(RunRow, job.current_run or "")
                if run is None:
                    continue
                if run.state == "launching" and run.run_id in self._launching:
                    # Being launched right now: stop it once the launcher reports.
                    run.state, run.stop_reason = "stopping", "cancelled"
                    _transition(session, job, "terminating", now, "cancelling", "stopping")
                elif run.state == "launching":
                    # Never reached the back end: nothing to stop.
                    self.scheduler.ended(job.id, now, succeeded=False)
                    run.state, run.outcome, run.ended_at = "ended", "cancelled", now
                    _transition(session, job, "cancelled", now, "cancelled", "cancelled by request")
                    job.ended_at = now
                elif run.state == "running":
                    run.state, run.stop_reason = "stopping", "cancelled"
                    _transition(session, job, "terminating", now, "cancelling", "SIGTERM sent")
                    self._stop_async(run.run_id)

    def _collect_ended_runs(self) -> None:
        # Every `poll_s`, or at once when a stop finished; run ends are not latency-critical.
        due = time.monotonic() - self._last_poll >= self.poll_s
        if not due and not self._stop_done.is_set():
            return
        self._stop_done.clear()
        self._last_poll = time.monotonic()
        wall = time.time()
        with self.store.session() as session:
            live = session.execute(
                select(RunRow, JobRow.spec)
                .join(JobRow, JobRow.id == RunRow.job_id)
                .where(RunRow.state.in_(("running", "stopping")))
            ).all()
            for run, spec in live:
                limit = spec.get("time_limit_s")
                started = run.started_at
                if run.state == "running" and limit and started and wall > started + limit:
                    # Enforced, as Slurm does: EASY backfill counts on jobs ending by then.
                    job = session.get(JobRow, run.job_id)
                    assert job is not None
                    run.state, run.stop_reason = "stopping", "time-limit"
                    _transition(session, job, "terminating", wall, "time-limit", f"ran {limit:g} s")
                    self._stop_async(run.run_id)
        ids = [r.run_id for r, _ in live if r.run_id not in self._launching]  # not started yet
        if not ids:
            return
        statuses = self.backend.poll(ids)
        ended = {rid: s for rid, s in statuses.items() if s.state.terminal}
        if not ended:
            return
        now = time.time()
        with self.store.session() as session:
            for run_id, status in ended.items():
                self._run_ended(session, run_id, status, now)

    def _run_ended(self, session: Session, run_id: str, status: RunStatus, now: float) -> None:
        run = session.get(RunRow, run_id)
        if run is None or run.state == "ended":
            return
        job = session.get(JobRow, run.job_id)
        assert job is not None
        ended_at = min(now, status.ended_at or now)
        run.state, run.outcome, run.exit_code, run.ended_at = (
            "ended",
            status.state.value,
            status.exit_code,
            ended_at,
        )
        accounting.record_run_end(session, run, job.tenant, ended_at)
        self._stopping.discard(run_id)
        if job.current_run != run_id:
            return  # an older run (preempted) ending; the job has moved on
        job.exit_code = status.exit_code
        spec = JobSpec.model_validate(job.spec)
        if run.stop_reason == "preempted" and not job.cancel_requested:
            # The scheduler requeued the job when it decided to preempt it.
            _transition(session, job, "pending", now, "preempted", "stopped; back in the queue")
            job.site = job.accelerator_type = None
            return
        if run.stop_reason == "time-limit":
            message = f"stopped at its time limit of {spec.time_limit_s:g} s"
            self.scheduler.ended(job.id, now, succeeded=False)
            _transition(session, job, "failed", now, "time-limit", message)
            job.ended_at, job.message = now, message
            return
        if job.cancel_requested or status.state is RunState.CANCELLED:
            self.scheduler.ended(job.id, now, succeeded=False)
            _transition(session, job, "cancelled", now, "cancelled", status.message or "cancelled")
            job.ended_at = now
            return
        if status.state is RunState.SUCCEEDED:
            self.scheduler.ended(job.id, now, succeeded=True)
            _transition(session, job, "succeeded", now, "exited", "exit code 0")
            job.ended_at = now
            return
        reason = "lost" if status.state is RunState.LOST else "failed"
        message = status.message or f"exit code {status.exit_code}"
        if job.failures < spec.max_retries:
            job.failures += 1
            self.scheduler.requeue(job.id, spec, job.submitted_at, now)
            _transition(
                session, job, "pending", now, "retrying", f"{message}; retry {job.failures}"
            )
            job.site = job.accelerator_type = None
            return
        self.scheduler.ended(job.id, now, succeeded=False)
        _transition(session, job, "failed", now, reason, message)
        job.ended_at = now
        job.message = message

    def _schedule(self, now: float) -> None:
        started = time.perf_counter()
        decisions = self.scheduler.step(now)
        self.stats.last_step_s = time.perf_counter() - started
        if not decisions:
            return
        with audited(self.store) as session:
            ids = sorted({d.job_id for d in decisions})
            jobs = {j.id: j for j in session.scalars(select(JobRow).where(JobRow.id.in_(ids)))}
            for decision in decisions:
                job = jobs.get(decision.job_id)
                if job is None:
                    continue
                if job.first_decision_at is None:
                    job.first_decision_at = now
                kind = DECISION_KINDS[type(decision)]
                self.stats.decision_counts[kind] = self.stats.decision_counts.get(kind, 0) + 1
                self._audit(session, job, decision)
                if isinstance(decision, StartJob):
                    self._commit_start(session, job, decision, now)
                elif isinstance(decision, PreemptJob):
                    self._commit_preempt(session, job, decision, now)
                elif isinstance(decision, HoldJob):
                    job.hold_reason, job.hold_message = decision.reason, decision.message
                    session.add(
                        JobEventRow(
                            job_id=job.id,
                            at=now,
                            state="pending",
                            reason=decision.reason,
                            message=decision.message,
                        )
                    )
        self.stats.decisions += len(decisions)

    def _audit(self, session: Session, job: JobRow, decision: LiveDecision) -> None:
        """Placements, preemptions and data-law holds go to the audit log, in the same
        transaction as the decision (holds only when the reason changed, as the scheduler
        emits them)."""
        subject, datasets = f"job/{job.id}", list(job.spec.get("datasets") or [])
        base = {"tenant": job.tenant, "datasets": datasets}
        if isinstance(decision, StartJob):
            detail = {
                **base,
                "site": decision.site,
                "accelerator_type": decision.accelerator_type,
                "accelerators": decision.accelerators,
                "nodes": sorted({node for node, _ in decision.placement}),
                "backfilled": decision.backfilled,
                "data_decision": self.scheduler.data_decision(decision.job_id, decision.site),
            }
            record(session, "placement", "scheduler", subject, detail)
        elif isinstance(decision, PreemptJob):
            detail = {
                **base,
                "site": job.site,
                "reason": decision.reason,
                "by_job": decision.by_job,
            }
            record(session, "preemption", "scheduler", subject, detail)
        elif decision.reason.startswith(("data-law:", "operator:")):
            detail = {**base, "reason": decision.reason, "message": decision.message}
            record(session, "data-decision", "scheduler", subject, detail)

    def _commit_start(self, session: Session, job: JobRow, start: StartJob, now: float) -> None:
        job.attempts += 1
        run_id = f"job{job.id}-a{job.attempts}"
        session.add(
            RunRow(
                run_id=run_id,
                job_id=job.id,
                attempt=job.attempts,
                site=start.site,
                accelerator_type=start.accelerator_type,
                accelerators=start.accelerators,
                placement=[[node, devices] for node, devices in start.placement],
                state="launching",
                created_at=now,
            )
        )
        job.current_run, job.site, job.accelerator_type = run_id, start.site, start.accelerator_type
        job.hold_reason = job.hold_message = None
        where = f"{len(start.placement)} worker(s) on {start.accelerator_type or 'CPU'}"
        _transition(session, job, "starting", now, "placed", where, start.site)

    def _commit_preempt(self, session: Session, job: JobRow, stop: PreemptJob, now: float) -> None:
        run = session.get(RunRow, job.current_run or "")
        by = f" for job {stop.by_job}" if stop.by_job is not None else ""
        if run is not None and run.run_id in self._launching:
            run.state, run.stop_reason = "stopping", "preempted"  # stopped once launched
            _transition(session, job, "terminating", now, "preempting", stop.reason + by)
            return
        if run is None or run.state == "launching":
            if run is not None:
                run.state, run.outcome, run.ended_at = "ended", "cancelled", now
            _transition(session, job, "pending", now, "preempted", stop.reason + by)
            return
        run.state, run.stop_reason = "stopping", "preempted"
        _transition(session, job, "terminating", now, "preempting", stop.reason + by)
        self._stop_async(run.run_id)

    def _launch(self) -> None:
        with self.store.session() as session:
            waiting = session.scalars(
                select(RunRow).where(RunRow.state == "launching").order_by(RunRow.created_at)
            ).all()
            alive = session.scalars(
                select(RunRow).where(RunRow.state.in_(("running", "stopping")))
            ).all()
            busy_jobs = {r.job_id for r in alive}
            # A preempted run holds its nodes until it has really stopped (the scheduler
            # already counts them free): whatever was placed there waits for it.
            busy_nodes = {node for r in alive if r.state == "stopping" for node, _ in r.placement}
            ready = [
                r
                for r in waiting
                if r.job_id not in busy_jobs
                and r.run_id not in self._launching
                and busy_nodes.isdisjoint(node for node, _ in r.placement)
            ]
            owners = {r.job_id for r in ready}
            jobs = {j.id: j for j in session.scalars(select(JobRow).where(JobRow.id.in_(owners)))}
            launches = [(r, jobs.get(r.job_id)) for r in ready]
        for run, job in launches:
            assert job is not None
            if run.run_id in self._launching:
                continue
            self._launching.add(run.run_id)
            launch = self._launch_spec(run, job, JobSpec.model_validate(job.spec))
            self._launchers.submit(self._launch_one, launch)

    def _launch_one(self, launch: LaunchSpec) -> None:
        """In a launcher thread: a slow engine (process start, sbatch) never blocks the loop."""
        try:
            status = self.backend.submit(launch)
            failure = status.message if status.state is RunState.FAILED else None
        except Exception as exc:  # reported to the loop, which fails or retries the run
            message = str(exc) or exc.__class__.__name__
            status, failure = RunStatus(launch.run_id, RunState.FAILED, None, message), message
        self._launched.put((launch.run_id, status, failure))
        self._wake.set()

    def _finish_launches(self) -> None:
        """Record what the launcher threads report (in the loop thread, which owns the book)."""
        if self._launched.empty():
            return
        now = time.time()
        with self.store.session() as session:
            while not self._launched.empty():
                run_id, status, failure = self._launched.get_nowait()
                self._launching.discard(run_id)
                run = session.get(RunRow, run_id)
                if run is None or run.state not in ("launching", "stopping"):
                    continue
                job = session.get(JobRow, run.job_id)
                assert job is not None
                run.started_at = status.started_at or now
                if run.state == "stopping":
                    # Cancelled or preempted while it was being launched: stop it now.
                    if failure is None:
                        self._stop_async(run_id)
                    else:
                        self._run_ended(session, run_id, status, now)
                    continue
                run.state = "running"
                if failure is not None:
                    # A start that failed: the run ends now and the usual failure rules apply.
                    self._run_ended(session, run_id, status, now)
                elif job.current_run == run_id:
                    job.started_at = job.started_at or run.started_at
                    _transition(session, job, "running", now, "launched", "", run.site)

    def _launch_spec(self, run: RunRow, job: JobRow, spec: JobSpec) -> LaunchSpec:
        workdir = self.runs_dir / run.run_id
        return LaunchSpec(
            run_id=run.run_id,
            job_id=str(job.id),
            attempt=run.attempt,
            command=spec.command or "",
            workers=[WorkerPlacement(node, tuple(devices)) for node, devices in run.placement],
            workdir=workdir,
            checkpoint_dir=self.runs_dir / f"job{job.id}-checkpoints",
            env=spec.env,
            site=run.site,
            accelerator_type=run.accelerator_type,
            accelerators_per_worker=spec.accelerators_per_worker,
            cpu_per_worker=spec.cpu_per_worker,
            memory_gib_per_worker=spec.memory_gib_per_worker,
            time_limit_s=spec.time_limit_s,
        )

    def _stop_async(self, run_id: str) -> None:
        if run_id in self._stopping:
            return
        self._stopping.add(run_id)

        def stop() -> None:
            try:
                self.backend.cancel(run_id, self.grace_s)
            except BackendError:
                log.exception("cannot stop run %s", run_id)
            finally:
                self._stop_done.set()
                self._wake.set()

        self._stoppers.submit(stop)


def _transition(
    session: Session,
    job: JobRow,
    state: str,
    now: float,
    reason: str,
    message: str,
    site: str | None = None,
) -> None:
    job.state = state
    session.add(
        JobEventRow(
            job_id=job.id,
            at=now,
            state=state,
            reason=reason,
            message=message,
            site=site or job.site,
        )
    )
