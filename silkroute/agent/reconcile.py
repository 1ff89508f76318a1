"""The site agent's back-end-facing half: what to submit, cancel and report, decided purely.

Each round the agent holds two views of its site: what the control plane wants (`DesiredRun`:
every run it created for this site and has not yet heard end, with the intent to run or to
stop it and the last state it was told), and what the engine says it has (`list_runs`).
`reconcile` compares them and returns a `Plan`; `apply_plan` carries it out on a back end.
No I/O, no clock in `reconcile`: the same views give the same plan.

The rules, in the order they protect the platform's promises:
- One copy of each job: a run the engine has but the control plane does not want (an orphan,
  e.g. after the job moved to another site) is cancelled; a run is submitted only while no
  other run of the same job is still alive on the engine (the old attempt is stopped first).
- No run started twice: a run is submitted only if the control plane never heard of it
  starting (`last_reported is None`) and the engine does not have it. A run that was
  accepted but that the engine no longer knows is reported LOST, never resubmitted: a new
  attempt, with a new run_id, is the control plane's decision. A run the engine holds but
  whose submit was cut short (`RunStatus.submit_cut_short`: a rank never started, its agent
  died mid-submit) is submitted again, as the engine's idempotent submit then starts only
  what never started; left alone it would wait, `starting`, for ever.
- The control plane hears every change once: a report only where the engine's state differs
  from the last reported one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from silkroute.backends.base import Backend, BackendError, LaunchSpec, RunState, RunStatus


class Intent(StrEnum):
    RUN = "run"
    STOP = "stop"  # cancelled by the tenant, or preempted


@dataclass(frozen=True, slots=True)
class DesiredRun:
    run_id: str
    job_id: str
    intent: Intent
    spec: LaunchSpec | None = None  # needed to submit; a run only to be stopped may lack it
    last_reported: RunState | None = None  # None: the control plane never heard it started
    grace_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Cancel:
    run_id: str
    grace_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class Held:
    run_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    cancels: list[Cancel] = field(default_factory=list)
    submits: list[LaunchSpec] = field(default_factory=list)
    reports: list[RunStatus] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)


def reconcile(
    desired: Sequence[DesiredRun],
    observed: Sequence[RunStatus],
    *,
    orphan_grace_s: float = 30.0,
) -> Plan:
    """The actions that bring the engine to the control plane's wishes (see the module doc)."""
    wanted = _by_run_id(desired)
    seen = {s.run_id: s for s in observed}
    alive_by_job: dict[str, set[str]] = {}
    for run in desired:
        status = seen.get(run.run_id)
        if status is not None and not status.state.terminal:
            alive_by_job.setdefault(run.job_id, set()).add(run.run_id)

    plan = Plan()
    for run in sorted(desired, key=lambda r: r.run_id):
        status = seen.get(run.run_id)
        alive_runs_of_job = alive_by_job.get(run.job_id, set())
        if status is not None:
            _known(run, status, alive_runs_of_job - {run.run_id}, plan)
        else:
            _unknown(run, alive_runs_of_job, plan)
    for status in sorted(observed, key=lambda s: s.run_id):
        if status.run_id not in wanted and not status.state.terminal:
            reason = "not desired by the control plane (an orphan)"
            plan.cancels.append(Cancel(status.run_id, orphan_grace_s, reason))
    return plan


def _known(run: DesiredRun, status: RunStatus, other_alive_runs: set[str], plan: Plan) -> None:
    if run.intent is Intent.STOP and not status.state.terminal:
        plan.cancels.append(Cancel(run.run_id, run.grace_s, "stop requested"))
    if status.state != run.last_reported:
        plan.reports.append(status)
    if run.intent is Intent.RUN and status.submit_cut_short and not status.state.terminal:
        _submit(run, other_alive_runs, plan)


def _unknown(run: DesiredRun, alive_runs_of_job: set[str], plan: Plan) -> None:
    if run.last_reported is not None and run.last_reported.terminal:
        return  # finished and reported; the engine may forget finished runs
    if run.last_reported is not None:
        plan.reports.append(
            RunStatus(run.run_id, RunState.LOST, message="the engine no longer knows this run")
        )
        return
    if run.intent is Intent.STOP:
        plan.reports.append(
            RunStatus(run.run_id, RunState.CANCELLED, message="stopped before it was submitted")
        )
        return
    _submit(run, alive_runs_of_job, plan)


def _submit(run: DesiredRun, other_alive_runs: set[str], plan: Plan) -> None:
    if run.spec is None:
        plan.held.append(Held(run.run_id, "no launch spec to submit"))
    elif other_alive_runs:
        others = ", ".join(sorted(other_alive_runs))
        plan.held.append(Held(run.run_id, f"another run of job {run.job_id} is alive: {others}"))
    else:
        plan.submits.append(run.spec)


def _by_run_id(desired: Sequence[DesiredRun]) -> dict[str, DesiredRun]:
    wanted: dict[str, DesiredRun] = {}
    for run in desired:
        if run.run_id in wanted:
            raise ValueError(f"desired: run_id {run.run_id!r} appears twice")
        if run.spec is not None and run.spec.run_id != run.run_id:
            raise ValueError(f"desired: run {run.run_id!r} has a spec for {run.spec.run_id!r}")
        wanted[run.run_id] = run
    return wanted


@dataclass(frozen=True, slots=True)
class Applied:
    reports: list[RunStatus]  # to send to the control plane, in order
    refused: dict[str, str]  # run_id -> the engine's reason (nothing was started)


def apply_plan(plan: Plan, backend: Backend) -> Applied:
    """Cancels first (they free room and stop old attempts), then submits."""
    reports = list(plan.reports)
    refused: dict[str, str] = {}
    for cancel in plan.cancels:
        try:
            backend.cancel(cancel.run_id, grace_s=cancel.grace_s)
        except BackendError as exc:
            refused[cancel.run_id] = str(exc)
    for spec in plan.submits:
        try:
            reports.append(backend.submit(spec))
        except BackendError as exc:
            refused[spec.run_id] = str(exc)
    return Applied(reports, refused)
