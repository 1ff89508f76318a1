"""The live loop: the only writer of job states after submission.

Each pass (on an event — submit, cancel, an agent's report — or every `tick_s`): take in new
jobs, mark sites whose agent went silent down (their jobs requeued), carry out cancels, take
in what the sites' agents reported (a run reached its engine, or ended), stop runs past their
time limit, run one scheduling step and commit its decisions (each with the job's state change,
in one transaction).

The loop never touches an engine. A decision becomes a run row (`launching`, or `stopping`
when it must stop) at a site; that site's agent, remote (`silkroute agent`) or embedded in
this process (`agent.embedded`), reads its site's runs, carries them out on its own back end
and reports each engine state back (`control/agents.py`), which this loop takes in. A job's
resources stay held in the scheduler's book until its agent reports the run gone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from silkroute.backends.base import RunState, RunStatus
from silkroute.control import accounting, copies, governance, inventory
from silkroute.control.scheduling import (
    HoldJob,
    LiveDecision,
    LiveScheduler,
    PreemptJob,
    StartJob,
    node_names,
    tenant_specs,
)
from silkroute.model.cluster import SiteSpec
from silkroute.model.job import JobSpec
from silkroute.store.audit import audited, checkpoint, record
from silkroute.store.db import Store
from silkroute.store.models import (
    AgentRow,
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
# Runs stopped because their node left the federation: the job may not start again until
# the run's agent confirms it gone (no two runs of one job at once), so it waits out of the
# scheduler's queue, `terminating`, and is queued again when the run is reported ended.
FENCE_REASONS = ("node-removed", "node-capped")
# A run its agent stopped itself: the agent lost the control plane for longer than its lease.
LEASE_EXPIRED = "lease-expired"
# Hold reasons of a job whose run must be confirmed gone (or written off) first.
WAITING_ON_RUN = ("fenced", "site-down")


DECISION_KINDS = {StartJob: "start", PreemptJob: "preempt", HoldJob: "hold"}


@dataclass(slots=True)
class LoopStats:
    passes: int = 0
    decisions: int = 0
    last_step_s: float = 0.0
    decision_counts: dict[str, int] = field(default_factory=dict)


class ControlLoop:
    """`data_dir` holds the shipped logs (`logs/<run>/stdout.log`); `runs_dir` is where the
    embedded agents run their jobs. `agent_timeout_s`: a remote site whose agent has not
    sent a heartbeat for this long is marked down (no new work there). `lease_s` (default: the
    agent timeout): a remote agent that has not reached the control plane for this long stops
    its runs itself (SIGTERM, `grace_s`, kill); the runs of a down site count as lost, and
    their jobs are queued again, only once that lease and grace have passed since the agent
    was last heard (`fence_s`), so a job never runs at two sites at once."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        tick_s: float = 1.0,
        grace_s: float = 10.0,
        agent_timeout_s: float = 15.0,
        lease_s: float | None = None,
        budget_stops_running: bool = False,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.runs_dir = self.data_dir / "runs"
        self.logs_dir = self.data_dir / "logs"
        self.tick_s = tick_s
        self.grace_s = grace_s
        # What a spent monthly budget does to a tenant's running jobs: False (the default),
        # they run to their end; True, they are stopped as a preemption (docs/platform.md).
        self.budget_stops_running = budget_stops_running
        self.agent_timeout_s = agent_timeout_s
        self.agent_lease_s = lease_s
        self.stats = LoopStats()
        self.scheduler = LiveScheduler([], [])
        self.sweep_s = 5.0
        self.poll_s = 0.25  # time limits and unhinted reports are looked at this often
        self._last_poll = 0.0
        self._last_budget_check = 0.0
        self._budgets_stale = True  # a new book knows no budget holds yet
        self._last_report_sweep = 0.0
        self._last_agent_check = 0.0
        self._cancel_hint = threading.Event()  # the API recorded a cancel request
        self._report_hint = threading.Event()  # an agent reported an engine state
        self._agents_hint = threading.Event()  # an agent registered or came back
        # Set when a run was assigned or told to stop: the embedded agents look at once.
        self.assignments_changed = threading.Event()
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
        # What the sites' engines take away (control/inventory.py): drained nodes and their
        # reasons, accelerator caps, each site's differences; applied with the operators'.
        self._inventory_hint = threading.Event()
        self.engine_drained: dict[str, str] = {}
        self.engine_caps: dict[str, int] = {}
        self._caps_applied: dict[str, int] = {}
        self.audit_key: Ed25519PrivateKey | None = None  # signs audit checkpoints
        self.operator_policies: str | None = None  # the operator's Cedar policies (text)
        self.checkpoint_s = 60.0
        self._last_checkpoint = time.monotonic()
        self._calendar: governance.Calendar | None = None  # when the law was last read
        self._lock = threading.Lock()  # one pass at a time (the thread, or tests calling run_once)
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        # Started with the loop and stopped after it: the in-process agents (boot.py).
        self.companions: list[Any] = []

    @property
    def lease_s(self) -> float:
        """How long a remote agent may go without reaching the control plane before it stops
        its runs itself (agents learn it from each heartbeat's answer)."""
        return self.agent_timeout_s if self.agent_lease_s is None else self.agent_lease_s

    @property
    def fence_s(self) -> float:
        """Silence after which a remote agent has surely stopped its runs: its lease, the
        grace from SIGTERM to SIGKILL, and a margin for the agent's lease check (at most
        1 s apart), the kill itself and the two machines' clocks running at slightly
        different rates (5 %, at least 1 s)."""
        lease, grace = self.lease_s, self.grace_s
        return lease + grace + max(1.0, 0.05 * (lease + grace))

    # ----- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._started = time.monotonic()
        with self._lock:
            self._rebuild_book()
        self._cancel_hint.set()
        self._report_hint.set()
        self._thread = threading.Thread(target=self._run, name="silkroute-loop", daemon=True)
        self._thread.start()
        for companion in self.companions:
            companion.start()

    def stop(self) -> None:
        for companion in self.companions:
            companion.stop()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            with self._lock:
                self._checkpoint_audit(force=True)
        except Exception:  # a database gone at shutdown must not hide the real error
            log.exception("final audit checkpoint failed")

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
        """New datasets or grants, or a new day in any jurisdiction (rules are read at its
        date, and its yearly count restarts at its midnight): re-read them."""
        instant = governance.now()
        calendar = governance.calendar(instant)
        if not self._governance.is_set() and calendar == self._calendar:
            return
        self._governance.clear()
        with self.store.session() as session:
            self.scheduler.use_governance(
                governance.load_governance(
                    session, operator=self.operator_policies, instant=instant
                )
            )
        self._calendar = calendar

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
            try:
                self._pass(now)
            except BaseException:
                # The failed step's transaction rolled back, but the book may already hold
                # what it decided in it (a run's charge billed, a run let go): the next pass
                # builds the book again from the store, the truth, instead of counting twice
                # what the step will take in again.
                self._rebuild.set()
                raise

    def _pass(self, now: float | None) -> None:
        if self._rebuild.is_set():
            self._rebuild.clear()
            self._rebuild_book()
        self._refresh_governance()
        self._take_new_jobs()
        self._watch_agents()
        self._take_inventories()
        self._apply_node_states(time.time() if now is None else now)
        self._carry_out_cancels()
        self._take_reports()
        self._enforce_time_limits()
        self._hold_spent_budgets(time.time() if now is None else now)
        self._schedule(time.time() if now is None else now)
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
        """The book as the store describes it: sites, tenants, queued and running jobs, and
        runs told to stop that have not reported gone (they keep their resources)."""
        now = time.time()
        with self.store.session() as session:
            sites = copies.placement_sites(session)  # data locality: every record of a copy
            tenants = tenant_specs(
                (r.spec(), accounting.voucher_hours_used(session, r.name))
                for r in session.scalars(select(TenantRow))
            )
            self._governance.clear()
            instant = governance.now()
            self._calendar = governance.calendar(instant)
            scheduler = LiveScheduler(
                sites,
                tenants,
                governance=governance.load_governance(
                    session, operator=self.operator_policies, instant=instant
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
                placed = [(n, list(d)) for n, d in run.placement] if run is not None else []
                if run is not None and run.state == "stopping" and run.stop_reason in FENCE_REASONS:
                    # Waits, out of the queue, for its agent to report the run gone; the run
                    # counts toward its tenant's cap and quota until then.
                    scheduler.add_stopping_elsewhere(
                        job.id, spec, run.accelerator_type, run.created_at
                    )
                    continue
                if run is not None and run.state == "stopping":
                    cancelling = job.cancel_requested or run.stop_reason != "preempted"
                    ok = scheduler.add_stopping(
                        job.id, spec, job.submitted_at, placed, now, cancelling
                    )
                elif run is not None:
                    ok = scheduler.add_running(
                        job.id,
                        spec,
                        job.submitted_at,
                        run.started_at or run.created_at,
                        placed,
                        launched=run.state == "running",
                    )
                elif job.state == "pending":
                    scheduler.add_pending(job.id, spec, job.submitted_at)
                    continue
                else:
                    ok = False
                if not ok:
                    log.warning("job %s holds nodes no longer registered", job.id)
            # Sites whose agent is not up take no new work until it reports.
            for agent in session.scalars(select(AgentRow).where(AgentRow.state != "up")):
                scheduler.drain_site(agent.site)
        self.scheduler = scheduler
        self._budgets_stale = True
        self._drained, self._removed, self._caps_applied = set(), set(), {}
        self._inventory_hint.set()
        self._nodes_hint.set()  # drains and removals are applied to the new book next

    # ----- one pass -------------------------------------------------------------------------
    def cancel_requested(self) -> None:
        """The API recorded a cancel: look at cancel requests on the next pass."""
        self._cancel_hint.set()
        self._wake.set()

    def nodes_changed(self) -> None:
        """An operator drained, undrained, removed or restored nodes (stored): apply on the
        next pass."""
        self._nodes_hint.set()
        self._wake.set()

    def inventory_changed(self) -> None:
        """An agent registered a new inventory (stored): compare it on the next pass."""
        self._inventory_hint.set()
        self._wake.set()

    def _take_inventories(self) -> None:
        """Compare each remote site's registered inventory with its declaration: the nodes
        its engine takes away are drained, those with fewer accelerators capped (applied with
        the operators' node states). Every change is logged and audited."""
        if not self._inventory_hint.is_set():
            return
        self._inventory_hint.clear()
        with self.store.session() as session:
            specs = [SiteSpec.model_validate(r.spec) for r in session.scalars(select(SiteRow))]
            stored = {
                a.site: found
                for a in session.scalars(select(AgentRow))
                if (found := inventory.parse_stored(a.inventory)) is not None
            }
        drained, caps, diffs = inventory.engine_node_states(specs, stored)
        site_of = {n.node: n.site for n in node_names(specs)}
        changes: dict[str, dict[str, Any]] = {}
        for node, reason in drained.items():
            if self.engine_drained.get(node) != reason:
                changes.setdefault(site_of[node], {}).setdefault("drained", {})[node] = reason
                log.warning("node %s of site %s drained: %s", node, site_of[node], reason)
        for node in sorted(self.engine_drained.keys() - drained.keys()):
            if node in site_of:
                changes.setdefault(site_of[node], {}).setdefault("undrained", []).append(node)
                log.info("node %s of site %s back: its engine reports it up", node, site_of[node])
        for node in sorted(caps.keys() | self.engine_caps.keys()):
            if caps.get(node) != self.engine_caps.get(node) and node in site_of:
                capped = changes.setdefault(site_of[node], {}).setdefault("capped", {})
                capped[node] = caps.get(node)  # None: its declared count again
                count = caps.get(node, "the declared count of")
                log.warning("node %s: %s accelerators (its engine reports)", node, count)
        if changes:  # the audit log's lock only when there is something to record
            with audited(self.store) as session:
                for site, detail in sorted(changes.items()):
                    detail = {"action": "engine inventory", **detail}
                    detail["differences"] = diffs[site].differences() if site in diffs else []
                    record(session, "admin", "control-plane", f"site/{site}", detail)
        if drained != self.engine_drained or caps != self.engine_caps:
            self.engine_drained, self.engine_caps = drained, caps
            self._nodes_hint.set()

    def _apply_node_states(self, now: float) -> None:
        """Bring the book to the stored node states and what the engines report (drained by
        an operator or by its engine: no new work; capped: fewer accelerators); runs on
        removed nodes or on devices an engine no longer reports are stopped by their agents,
        and their jobs wait for that before they are queued again (`_fence_runs`)."""
        if not self._nodes_hint.is_set():
            return
        self._nodes_hint.clear()
        with self.store.session() as session:
            rows = session.execute(select(NodeStateRow.node, NodeStateRow.state)).all()
            drained = {node for node, state in rows if state == "drained"}
            drained |= self.engine_drained.keys()
            removed = {node for node, state in rows if state == "removed"}
            self.scheduler.drain_nodes(self._drained - drained, drained=False)
            self.scheduler.drain_nodes(drained - self._drained)
            requeued = self.scheduler.remove_nodes(removed - self._removed, now)
            if self._removed - removed:  # restored: the book takes nodes back only rebuilt
                self.request_rebuild()
            self._drained, self._removed = drained, removed
            runs = session.scalars(
                select(RunRow).where(RunRow.job_id.in_(requeued), RunRow.state.in_(LIVE_RUN_STATES))
            ).all()
            message = "its node was removed by an operator"
            self._fence_runs(session, runs, now, "node-removed", message)
            if self.engine_caps != self._caps_applied:
                requeued = self.scheduler.cap_accelerators(self.engine_caps, now)
                self._caps_applied = dict(self.engine_caps)
                runs = session.scalars(
                    select(RunRow).where(
                        RunRow.job_id.in_(requeued), RunRow.state.in_(LIVE_RUN_STATES)
                    )
                ).all()
                message = "its site's engine reports fewer accelerators on its node"
                self._fence_runs(session, runs, now, "node-capped", message)

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
                if run is None or run.state not in LIVE_RUN_STATES:
                    continue
                # The job keeps its resources in the book until its agent reports the run
                # gone (a run that never reached the engine is reported so at once).
                self.scheduler.cancel(job.id, now)
                if run.state != "stopping":
                    run.state, run.stop_reason = "stopping", "cancelled"
                    self.assignments_changed.set()
                if job.state != "terminating":
                    _transition(session, job, "terminating", now, "cancelling", "SIGTERM sent")

    def _enforce_time_limits(self) -> None:
        """A run past its job's time limit is stopped and the job fails, as Slurm does: EASY
        backfill counts on jobs ending by their limit. Checked every `poll_s`."""
        if time.monotonic() - self._last_poll < self.poll_s:
            return
        self._last_poll = time.monotonic()
        wall = time.time()
        with self.store.session() as session:
            live = session.execute(
                select(RunRow, JobRow.spec)
                .join(JobRow, JobRow.id == RunRow.job_id)
                .where(RunRow.state == "running")
            ).all()
            for run, spec in live:
                limit = spec.get("time_limit_s")
                started = run.started_at
                if limit and started and wall > started + limit:
                    job = session.get(JobRow, run.job_id)
                    assert job is not None
                    run.state, run.stop_reason = "stopping", "time-limit"
                    _transition(session, job, "terminating", wall, "time-limit", f"ran {limit:g} s")
                    self.assignments_changed.set()

    def _hold_spent_budgets(self, now: float) -> None:
        """Tenants whose monthly budget is spent start no job (theirs wait, pending, with
        the reason); raising the budget or a new month lifts the hold. Their running jobs go
        on, or with `budget_stops_running` are stopped as a preemption (docs/platform.md, "In
        the live loop"). The month's spend of every budgeted tenant is read in a few queries,
        every `poll_s` and at once after the book was rebuilt (a tenant changed)."""
        if not self._budgets_stale and time.monotonic() - self._last_budget_check < self.poll_s:
            return
        self._budgets_stale = False
        self._last_budget_check = time.monotonic()
        with self.store.session() as session:
            holds = accounting.budget_holds(session, now)
        self.scheduler.hold_budgets(holds)
        if self.budget_stops_running and holds:
            reason = "its tenant's monthly budget is spent"
            self._commit_decisions(self.scheduler.stop_tenants(holds, now, reason), now)

    # ----- what the sites' agents report ---------------------------------------------------
    def run_reported(self) -> None:
        """An agent reported an engine state (thread-safe): take it in on the next pass."""
        self._report_hint.set()
        self._wake.set()

    def agents_changed(self) -> None:
        """An agent registered or came back: look at the agents on the next pass."""
        self._agents_hint.set()
        self._wake.set()

    def _take_reports(self) -> None:
        """Engine states the agents reported since the last pass: launched, or ended."""
        due = time.monotonic() - self._last_report_sweep >= self.poll_s
        if not self._report_hint.is_set() and not due:
            return
        self._report_hint.clear()
        self._last_report_sweep = time.monotonic()
        now = time.time()
        with self.store.session() as session:
            reported = session.scalars(
                select(RunRow).where(RunRow.report_new.is_(True)).order_by(RunRow.created_at)
            ).all()
            for run in reported:
                # Cleared only if no newer report came meanwhile: an agent's report commits
                # beside this pass (PostgreSQL re-checks the condition on the latest row).
                session.execute(
                    update(RunRow)
                    .where(RunRow.run_id == run.run_id, RunRow.engine_state == run.engine_state)
                    .values(report_new=False)
                    .execution_options(synchronize_session=False)
                )
                if run.state == "ended" or run.engine_state is None:
                    continue  # ended meanwhile (its site went down): a late word changes nothing
                state = RunState(run.engine_state)
                if state.terminal:
                    status = RunStatus(
                        run.run_id,
                        state,
                        run.engine_exit_code,
                        run.engine_message,
                        run.engine_started_at,
                        run.engine_ended_at,
                    )
                    self._run_ended(session, run, status, now)
                    continue
                job = session.get(JobRow, run.job_id)
                assert job is not None
                if run.state == "launching":
                    run.state = "running"
                    if job.current_run == run.run_id:
                        self.scheduler.launched(job.id)
                if state is RunState.RUNNING and run.started_at is None:
                    # The engine's clock: the ledger then agrees with the engine's records.
                    run.started_at = min(now, run.engine_started_at or now)
                    if job.current_run == run.run_id and job.state == "starting":
                        job.started_at = job.started_at or run.started_at
                        _transition(session, job, "running", now, "launched", "", run.site)

    def _run_ended(self, session: Session, run: RunRow, status: RunStatus, now: float) -> None:
        job = session.get(JobRow, run.job_id)
        assert job is not None
        ended_at = min(now, status.ended_at or now)
        if status.started_at is not None:
            # The engine's own start wins over the time its first report was taken in (the
            # ledger then agrees with the engine's records).
            run.started_at = min(ended_at, status.started_at)
        elif run.started_at is None:  # never seen running, no start on record: no length
            run.started_at = ended_at
        never_launched = run.launch_failed
        run.state, run.outcome, run.exit_code, run.ended_at = (
            "ended",
            status.state.value,
            status.exit_code,
            ended_at,
        )
        self._bill(session, run, job.tenant, ended_at)
        if job.current_run != run.run_id:
            return  # an older run ending; the job has moved on
        self.scheduler.run_gone(job.id)  # a fenced run: uncounted
        if job.hold_reason in WAITING_ON_RUN:
            job.hold_reason = job.hold_message = None
        job.exit_code = status.exit_code
        if job.state == "starting" and status.started_at is not None and not never_launched:
            # It ran, and ended before its agent looked again (a short job, or a loaded
            # machine): its history says that it ran and since when, as for one seen running.
            job.started_at = job.started_at or run.started_at
            _transition(session, job, "running", now, "launched", "", run.site)
        spec = JobSpec.model_validate(job.spec)
        fenced = run.stop_reason in (*FENCE_REASONS, LEASE_EXPIRED)
        stopping = run.stop_reason in ("preempted", "cancelled") or fenced or job.cancel_requested
        if never_launched and not stopping:
            # The engine refused the run: undo the start in the book; retry or fail below.
            self.scheduler.launch_failed(job.id, now)
            message = status.message or "the engine refused the run"
            if job.failures < spec.max_retries:
                job.failures += 1
                _transition(session, job, "pending", now, "retrying", f"{message}; retry")
                job.site = job.accelerator_type = None
                return
            self.scheduler.ended(job.id, now, succeeded=False)
            _transition(session, job, "failed", now, "launch-failed", message)
            job.ended_at, job.message = now, message
            return
        if fenced and not job.cancel_requested and status.state is not RunState.SUCCEEDED:
            # Confirmed gone: only now may the job start again. Not its fault: no retry used.
            self._queue_again(job, now)
            why = f"run {run.run_id} is gone" + (f" ({status.message})" if status.message else "")
            _transition(
                session, job, "pending", now, run.stop_reason or "", f"{why}; back in the queue"
            )
            job.site = job.accelerator_type = None
            return
        if run.stop_reason == "preempted" and not job.cancel_requested:
            self.scheduler.stopped(job.id, now)  # its resources come back only now
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
            self.scheduler.stopped(job.id, now)
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

    def _bill(self, session: Session, run: RunRow, tenant: str, ended_at: float) -> None:
        """Charge an ended run to the ledger, and the book the same accelerator-hours in the
        same pass: one figure, so the vouchers the scheduler admits by are the ledger's."""
        charged = accounting.record_run_end(session, run, tenant, ended_at)
        self.scheduler.billed(tenant, charged.accelerator_hours)

    def _schedule(self, now: float) -> None:
        started = time.perf_counter()
        decisions = self.scheduler.step(now)
        self.stats.last_step_s = time.perf_counter() - started
        self._commit_decisions(decisions, now)

    def _commit_decisions(self, decisions: Sequence[LiveDecision], now: float) -> None:
        """Each decision with its job's state change and audit record, in one transaction."""
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
                # Counted toward the tenant's yearly total (stored in this transaction).
                "sent_abroad": governance.record_exports(
                    session, self.scheduler.take_exports(decision.job_id)
                ),
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
                price_per_hour=self.scheduler.price(start.site, start.accelerator_type),
                placement=[[node, devices] for node, devices in start.placement],
                state="launching",
                created_at=now,
            )
        )
        job.current_run, job.site, job.accelerator_type = run_id, start.site, start.accelerator_type
        job.hold_reason = job.hold_message = None
        where = f"{len(start.placement)} worker(s) on {start.accelerator_type or 'CPU'}"
        _transition(session, job, "starting", now, "placed", where, start.site)
        self.assignments_changed.set()

    def _commit_preempt(self, session: Session, job: JobRow, stop: PreemptJob, now: float) -> None:
        """The run is told to stop through its site's agent (SIGTERM, grace, kill); the job
        keeps its resources in the book until the agent reports the run gone."""
        run = session.get(RunRow, job.current_run or "")
        named = stop.by_job is None or stop.reason.endswith(f"job {stop.by_job}")
        by = "" if named else f" for job {stop.by_job}"
        if run is None or run.state not in LIVE_RUN_STATES:
            self.scheduler.stopped(job.id, now)
            _transition(session, job, "pending", now, "preempted", stop.reason + by)
            return
        run.state, run.stop_reason = "stopping", "preempted"
        _transition(session, job, "terminating", now, "preempting", stop.reason + by)
        self.assignments_changed.set()

    # ----- agents' heartbeats ------------------------------------------------------------------
    def _watch_agents(self) -> None:
        """A site whose agent missed its heartbeats for `agent_timeout_s` goes down: no new
        placements there. Its runs go on meanwhile: its agent may only be cut off from us,
        and stops them itself once its lease runs out. When `fence_s` (lease, grace and a
        margin) has passed since the agent was last heard, the runs count as lost and their
        jobs go back to the queue (a preemptible one resumes from its checkpoint wherever it
        runs next). A heartbeat before that brings the site back up with its runs."""
        due = time.monotonic() - self._last_agent_check >= min(1.0, self.agent_timeout_s / 4)
        if not self._agents_hint.is_set() and not due:
            return
        self._agents_hint.clear()
        self._last_agent_check = time.monotonic()
        now = time.time()
        # Right after a start, silence is this server's own downtime, not the agents': they
        # get one timeout to reach it again before any site is declared down (but an agent
        # silent past `fence_s` has stopped its runs whoever's downtime it was).
        settled = time.monotonic() - self._started >= self.agent_timeout_s
        with audited(self.store) as session:
            for agent in session.scalars(select(AgentRow)):
                heard = agent.last_heartbeat
                silent = now - (heard if heard is not None else agent.state_since)
                fresh = heard is not None and silent <= self.agent_timeout_s
                fenced = silent >= self.fence_s
                if agent.state == "up" and not fresh and (settled or fenced):
                    agent.state, agent.state_since = "down", now
                    log.warning(
                        "site %s is down: no word from its agent for %.1f s", agent.site, silent
                    )
                    self.scheduler.drain_site(agent.site)
                    self._await_fence(session, agent.site, now, now - silent)
                    detail = {"action": "site down", "last_heartbeat": heard}
                    record(session, "admin", "control-plane", f"site/{agent.site}", detail)
                elif agent.state != "up" and fresh:
                    agent.state, agent.state_since = "up", now
                    log.info("site %s is up: its agent reports", agent.site)
                    self.scheduler.undrain_site(agent.site)
                    self._end_wait(session, agent.site, now)
                    detail = {"action": "site up", "last_heartbeat": heard}
                    record(session, "admin", "control-plane", f"site/{agent.site}", detail)
                if agent.state == "down" and fenced:
                    self._requeue_site(session, agent.site, now, silent)

    def _site_runs(self, session: Session, site: str) -> Sequence[RunRow]:
        return session.scalars(
            select(RunRow)
            .where(RunRow.site == site, RunRow.state.in_(LIVE_RUN_STATES))
            .order_by(RunRow.created_at)
        ).all()

    def _await_fence(self, session: Session, site: str, now: float, heard: float) -> None:
        """The jobs running at a site just declared down keep their runs for now; each
        says until when, in its history and its hold reason."""
        at = time.strftime("%H:%M:%S", time.gmtime(heard + self.fence_s))
        for run in self._site_runs(session, site):
            job = session.get(JobRow, run.job_id)
            assert job is not None
            if job.current_run != run.run_id or job.hold_reason in WAITING_ON_RUN:
                continue
            message = (
                f"site {site} is down (its agent missed its heartbeats): run {run.run_id} "
                f"counts as lost at {at} UTC, once its agent's lease ({self.lease_s:g} s) "
                f"and grace ({self.grace_s:g} s) have run out, unless the agent is heard first"
            )
            job.hold_reason, job.hold_message = "site-down", message
            _transition(session, job, job.state, now, "site-down", message)

    def _end_wait(self, session: Session, site: str, now: float) -> None:
        """The site's agent is back before its lease ran out: its runs go on."""
        for run in self._site_runs(session, site):
            job = session.get(JobRow, run.job_id)
            assert job is not None
            if job.current_run == run.run_id and job.hold_reason == "site-down":
                job.hold_reason = job.hold_message = None
                message = f"its agent is back: run {run.run_id} goes on"
                _transition(session, job, job.state, now, "site-up", message)

    def _requeue_site(self, session: Session, site: str, now: float, silent: float) -> None:
        runs = self._site_runs(session, site)
        message = (
            f"site {site} is down: no word from its agent for {silent:.1f} s, past its lease "
            f"({self.lease_s:g} s) and grace ({self.grace_s:g} s), by which its agent has "
            "stopped the run itself"
        )
        self._requeue_lost_runs(session, runs, now, "site-down", message)

    def _requeue_lost_runs(
        self, session: Session, runs: Sequence[RunRow], now: float, reason: str, message: str
    ) -> None:
        """The runs count as lost (their agent stopped them); their jobs go back to the
        queue without using a retry, or end if being cancelled."""
        for run in runs:
            job = session.get(JobRow, run.job_id)
            assert job is not None
            run.state, run.outcome, run.ended_at = "ended", RunState.LOST.value, now
            run.engine_message = message
            self._bill(session, run, job.tenant, now)
            if job.current_run != run.run_id:
                continue
            self.scheduler.run_gone(job.id)
            if job.hold_reason in WAITING_ON_RUN:
                job.hold_reason = job.hold_message = None
            if job.cancel_requested or run.stop_reason == "time-limit":
                self.scheduler.ended(job.id, now, succeeded=False)
                final = "cancelled" if job.cancel_requested else "failed"
                _transition(session, job, final, now, reason, message)
                job.ended_at = now
                continue
            # Not the job's fault: no retry is used up.
            self._queue_again(job, now)
            _transition(session, job, "pending", now, reason, message + "; requeued")
            job.site = job.accelerator_type = None

    def _fence_runs(
        self, session: Session, runs: Sequence[RunRow], now: float, reason: str, message: str
    ) -> None:
        """Runs that must stop before their jobs may start again (their node was removed or
        lost the devices they held): each turns `stopping`, which its agent carries out
        (SIGTERM, grace, kill) and reports; its job waits meanwhile, `terminating` and out
        of the scheduler's queue, and `_run_ended` queues it again. Until then the run still
        counts toward its tenant's running cap and quota, as Slurm counts a job COMPLETING.
        A run whose agent is silent is written off with its site instead (`_watch_agents`)."""
        for run in runs:
            job = session.get(JobRow, run.job_id)
            assert job is not None
            if run.stop_reason in (None, "preempted"):  # a cancel or time limit keeps its own
                run.stop_reason = reason
            run.state = "stopping"
            self.assignments_changed.set()
            if job.current_run != run.run_id:
                continue
            self.scheduler.withdraw(job.id, now, run.accelerator_type)
            nodes = ", ".join(sorted({node for node, _ in run.placement}))
            waiting = f"waiting for run {run.run_id} on {nodes} to be confirmed stopped"
            job.hold_reason, job.hold_message = "fenced", waiting
            _transition(session, job, "terminating", now, reason, f"{message}; {waiting}")

    def _queue_again(self, job: JobRow, now: float) -> None:
        """Back in the scheduler's queue: released if the book has it, added if it waited
        outside (`_fence_runs`)."""
        if job.id in self.scheduler.jobs:
            self.scheduler.lost(job.id, now)
        else:
            spec = JobSpec.model_validate(job.spec)
            self.scheduler.add_pending(job.id, spec, job.submitted_at)


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
