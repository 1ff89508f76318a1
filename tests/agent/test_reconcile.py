"""The agent's reconcile rules, one row per situation a site can be in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from silkroute.agent.reconcile import DesiredRun, Intent, reconcile
from silkroute.backends.base import LaunchSpec, RunState, RunStatus, WorkerPlacement

Q, R, S, F, C, L = (
    RunState.QUEUED,
    RunState.RUNNING,
    RunState.SUCCEEDED,
    RunState.FAILED,
    RunState.CANCELLED,
    RunState.LOST,
)


def spec(run_id: str, job_id: str = "j") -> LaunchSpec:
    return LaunchSpec(run_id, job_id, 0, "true", [WorkerPlacement("n")], Path("w"), Path("c"))


def want(
    run_id: str,
    intent: Intent = Intent.RUN,
    last: RunState | None = None,
    job_id: str = "j",
    with_spec: bool = True,
) -> DesiredRun:
    return DesiredRun(
        run_id,
        job_id,
        intent,
        spec=spec(run_id, job_id) if with_spec else None,
        last_reported=last,
        grace_s=7.0,
    )


def has(run_id: str, state: RunState) -> RunStatus:
    return RunStatus(run_id, state)


def cut_short(run_id: str, state: RunState = Q) -> RunStatus:
    """The engine holds the run, but a rank never started (its agent died mid-submit)."""
    return RunStatus(run_id, state, submit_cut_short=True)


@dataclass
class Case:
    name: str
    desired: list[DesiredRun]
    observed: list[RunStatus]
    want_submits: list[str] = field(default_factory=list)
    want_cancels: list[tuple[str, str]] = field(default_factory=list)  # run_id, reason part
    want_reports: list[tuple[str, RunState]] = field(default_factory=list)
    want_held: list[tuple[str, str]] = field(default_factory=list)


CASES = [
    Case("a new run the engine does not have is submitted", [want("a")], [], want_submits=["a"]),
    Case("a running run the control plane knows needs nothing", [want("a", last=R)],
         [has("a", R)]),
    Case("a change of state is reported", [want("a", last=Q)], [has("a", R)],
         want_reports=[("a", R)]),
    Case("an end is reported with the engine's state", [want("a", last=R)], [has("a", F)],
         want_reports=[("a", F)]),
    Case("a run the engine took but nobody reported yet is reported, not resubmitted",
         [want("a")], [has("a", Q)], want_reports=[("a", Q)]),
    Case("a stop request cancels a running run with its grace",
         [want("a", Intent.STOP, last=R)], [has("a", R)],
         want_cancels=[("a", "stop requested")]),
    Case("a stop request for a run that already ended only reports the end",
         [want("a", Intent.STOP, last=R)], [has("a", S)], want_reports=[("a", S)]),
    Case("a run stopped before it was ever submitted is reported cancelled",
         [want("a", Intent.STOP)], [], want_reports=[("a", C)]),
    Case("an accepted run the engine forgot is reported lost, never resubmitted",
         [want("a", last=R)], [], want_reports=[("a", L)]),
    Case("a run stopped while the engine forgot it is reported lost",
         [want("a", Intent.STOP, last=Q)], [], want_reports=[("a", L)]),
    Case("a finished and reported run the engine forgot needs nothing",
         [want("a", last=S)], []),
    Case("a live run the control plane does not want is cancelled as an orphan",
         [], [has("x", R)], want_cancels=[("x", "orphan")]),
    Case("a finished run the control plane does not want is left alone", [], [has("x", F)]),
    Case("the next attempt waits while the old attempt of the job is stopped",
         [want("a1", Intent.STOP, last=R), want("a2")], [has("a1", R)],
         want_cancels=[("a1", "stop requested")],
         want_held=[("a2", "another run of job j is alive: a1")]),
    Case("the next attempt starts once the old attempt has ended",
         [want("a1", Intent.STOP, last=R), want("a2")], [has("a1", C)],
         want_submits=["a2"], want_reports=[("a1", C)]),
    Case("runs of different jobs do not hold each other",
         [want("a", last=R, job_id="j1"), want("b", job_id="j2")], [has("a", R)],
         want_submits=["b"]),
    Case("a run with no launch spec is held, not submitted",
         [want("a", with_spec=False)], [], want_held=[("a", "no launch spec")]),
    Case("a run whose submit was cut short is reported and submitted again to finish it",
         [want("a")], [cut_short("a")], want_submits=["a"], want_reports=[("a", Q)]),
    Case("a cut-short run already reported is submitted again until every rank started",
         [want("a", last=Q)], [cut_short("a")], want_submits=["a"]),
    Case("a gang running with a rank that never started has that rank started",
         [want("a", last=R)], [cut_short("a", R)], want_submits=["a"]),
    Case("a cut-short run told to stop is cancelled, never submitted again",
         [want("a", Intent.STOP, last=Q)], [cut_short("a")],
         want_cancels=[("a", "stop requested")]),
    Case("a cut-short run waits while another run of its job is alive",
         [want("a1", Intent.STOP, last=R), want("a2")], [has("a1", R), cut_short("a2")],
         want_cancels=[("a1", "stop requested")], want_reports=[("a2", Q)],
         want_held=[("a2", "another run of job j is alive: a1")]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reconcile(case: Case) -> None:
    plan = reconcile(case.desired, case.observed, orphan_grace_s=11.0)

    assert [s.run_id for s in plan.submits] == case.want_submits
    assert [(r.run_id, r.state) for r in plan.reports] == case.want_reports
    assert [c.run_id for c in plan.cancels] == [run_id for run_id, _ in case.want_cancels]
    for cancel, (_, reason) in zip(plan.cancels, case.want_cancels, strict=True):
        assert reason in cancel.reason
        assert cancel.grace_s == (11.0 if "orphan" in reason else 7.0)
    assert [h.run_id for h in plan.held] == [run_id for run_id, _ in case.want_held]
    for held, (_, reason) in zip(plan.held, case.want_held, strict=True):
        assert reason in held.reason


def test_the_same_views_give_the_same_plan_in_any_order() -> None:
    desired = [want("b"), want("a", last=Q), want("c", Intent.STOP, last=R)]
    observed = [has("c", R), has("a", R), has("z", R)]
    first = reconcile(desired, observed)
    again = reconcile(list(reversed(desired)), list(reversed(observed)))
    assert first == again


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        pytest.param([want("a"), want("a")], "run_id 'a' appears twice", id="a run named twice"),
        pytest.param(
            [DesiredRun("a", "j", Intent.RUN, spec=spec("b"))],
            "run 'a' has a spec for 'b'",
            id="a spec for another run",
        ),
    ],
)
def test_inconsistent_wishes_are_refused_naming_the_run(
    desired: list[DesiredRun], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        reconcile(desired, [])
