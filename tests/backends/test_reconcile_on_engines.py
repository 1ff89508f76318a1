"""The agent's reconcile rules carried out on real engines: orphans go, wishes run, once."""

from __future__ import annotations

from silkroute.agent.reconcile import DesiredRun, Intent, apply_plan, reconcile
from silkroute.backends.base import RunState
from tests.backends.conftest import Engine, wait_for_files
from tests.backends.test_conformance import POLITE


def test_a_reconcile_round_cancels_the_orphan_and_starts_the_wanted_run(engine: Engine) -> None:
    backend = engine.make(namespace=f"reconcile{engine.name}")
    orphan = engine.spec(POLITE, workers=1)
    backend.submit(orphan)
    wait_for_files([orphan.workdir / "ready-0"])
    wanted = engine.spec('echo ran >> "$SILKROUTE_CHECKPOINT_DIR/runs"; sleep 1', workers=1)
    desired = DesiredRun(wanted.run_id, wanted.job_id, Intent.RUN, spec=wanted)

    first = apply_plan(reconcile([desired], backend.list_runs(), orphan_grace_s=5.0), backend)

    assert first.refused == {}
    assert [r.run_id for r in first.reports] == [wanted.run_id]
    assert backend.poll([orphan.run_id])[orphan.run_id].state is RunState.CANCELLED
    assert (orphan.workdir / "term-0").exists()

    # The control plane heard the first report; the next rounds start nothing again.
    desired = DesiredRun(
        wanted.run_id, wanted.job_id, Intent.RUN, spec=wanted, last_reported=first.reports[0].state
    )
    engine.wait(backend, wanted.run_id, lambda s: s.state.terminal)
    last = reconcile([desired], backend.list_runs())

    assert last.submits == [] and last.cancels == []
    assert [(r.run_id, r.state) for r in last.reports] == [(wanted.run_id, RunState.SUCCEEDED)]
    assert (wanted.checkpoint_dir / "runs").read_text().splitlines() == ["ran"]
