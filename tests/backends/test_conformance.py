"""One contract, every engine: what any back end must do for the platform to trust it.

Jobs write what they saw into files in their working directory, so the assertions do not
depend on how an engine keeps logs; the `logs` capability is checked where declared.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from silkroute.backends.base import Backend, BackendError, RunState
from silkroute.backends.capabilities import LogsCapable, UsageCapable
from tests.backends.conftest import Engine, wait_for_files

# Each rank records its contract variables, then says hello on stdout.
REPORT_ENV = (
    'printf "%s\\n" "rank=$SILKROUTE_RANK" "world=$SILKROUTE_WORLD_SIZE" '
    '"run=$SILKROUTE_RUN_ID" "job=$SILKROUTE_JOB_ID" "attempt=$SILKROUTE_ATTEMPT" '
    '"accelerators=$SILKROUTE_ACCELERATORS" "type=$SILKROUTE_ACCELERATOR_TYPE" '
    '"site=$SILKROUTE_SITE" "checkpoint=$SILKROUTE_CHECKPOINT_DIR" '
    '> "env-$SILKROUTE_RANK.txt"; echo "hello from rank $SILKROUTE_RANK"'
)

# Waits for SIGTERM; on it, leaves a marker and exits 0 (a well-behaved job).
POLITE = (
    "trap 'echo terminated > \"term-$SILKROUTE_RANK\"; exit 0' TERM; "
    'touch "ready-$SILKROUTE_RANK"; while :; do sleep 0.2; done'
)


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_a_two_worker_gang_runs_to_completion_with_each_rank_s_contract(engine: Engine) -> None:
    backend = engine.make()
    spec = engine.spec(REPORT_ENV, gpus=1, job_id="job-gang", attempt=2)
    backend.submit(spec)
    status = engine.wait(backend, spec.run_id, lambda s: s.state.terminal)

    assert status.state is RunState.SUCCEEDED, status
    assert status.exit_code == 0
    assert status.started_at is not None and status.ended_at is not None
    assert status.started_at <= status.ended_at
    seen = [_read_env(spec.workdir / f"env-{rank}.txt") for rank in range(2)]
    for rank, env in enumerate(seen):
        assert env["rank"] == str(rank)
        assert env["world"] == "2"
        assert (env["run"], env["job"], env["attempt"]) == (spec.run_id, "job-gang", "2")
        assert (env["type"], env["site"]) == ("H800", "test-site")
        assert env["checkpoint"] == str(spec.checkpoint_dir)
        assert len(env["accelerators"].split(",")) == 1
    assert seen[0]["accelerators"] != seen[1]["accelerators"], "two ranks got the same device"
    if isinstance(backend, LogsCapable) and "logs" in backend.capabilities:
        logs = backend.logs(spec.run_id)
        assert "hello from rank 0" in logs and "hello from rank 1" in logs


def test_submitting_the_same_run_id_again_returns_the_same_run(engine: Engine) -> None:
    backend = engine.make()
    spec = engine.spec('echo started >> "$SILKROUTE_CHECKPOINT_DIR/starts"; sleep 3', workers=1)
    first = backend.submit(spec)
    second = backend.submit(spec)
    engine.wait(backend, spec.run_id, lambda s: s.state.terminal)
    third = backend.submit(spec)  # after it finished, too

    assert first.run_id == second.run_id == third.run_id == spec.run_id
    assert third.state is RunState.SUCCEEDED
    assert (spec.checkpoint_dir / "starts").read_text().splitlines() == ["started"]
    assert [s.run_id for s in backend.list_runs()].count(spec.run_id) == 1


def test_cancel_sends_sigterm_to_every_rank_and_waits_within_the_grace(engine: Engine) -> None:
    backend = engine.make()
    spec = engine.spec(POLITE)
    backend.submit(spec)
    wait_for_files([spec.workdir / f"ready-{r}" for r in range(2)])

    started = time.monotonic()
    backend.cancel(spec.run_id, grace_s=engine.grace_s)
    took = time.monotonic() - started

    status = backend.poll([spec.run_id])[spec.run_id]
    assert status.state is RunState.CANCELLED, status
    assert took < engine.grace_s, f"cancel took {took:.1f} s for a job that exits on SIGTERM"
    for rank in range(2):
        assert (spec.workdir / f"term-{rank}").read_text().strip() == "terminated"


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(engine: Engine) -> None:
    backend = engine.make()
    spec = engine.spec(
        'trap "" TERM; touch "ready-$SILKROUTE_RANK"; while :; do echo . >> alive; sleep 0.2; done',
        workers=1,
    )
    backend.submit(spec)
    wait_for_files([spec.workdir / "ready-0"])

    started = time.monotonic()
    backend.cancel(spec.run_id, grace_s=2.0)
    status = engine.wait(backend, spec.run_id, lambda s: s.state.terminal, timeout_s=60)

    took = time.monotonic() - started
    assert status.state is RunState.CANCELLED, status
    assert took >= 1.5, f"killed after {took:.1f} s, before the 2 s grace"
    assert took < engine.grace_s + 30
    beats = (spec.workdir / "alive").read_text()
    time.sleep(1.0)
    assert (spec.workdir / "alive").read_text() == beats, "the job still runs after cancel"


def test_a_failing_rank_fails_the_gang_with_its_exit_code(engine: Engine) -> None:
    backend = engine.make()
    spec = engine.spec('if [ "$SILKROUTE_RANK" = 1 ]; then exit 7; fi; sleep 60')
    started = time.monotonic()
    backend.submit(spec)
    status = engine.wait(backend, spec.run_id, lambda s: s.state.terminal)

    assert status.state is RunState.FAILED, status
    assert status.exit_code == 7
    assert time.monotonic() - started < 50, "the healthy rank was not stopped with the gang"


def test_a_gang_fails_with_the_failing_rank_s_code_not_the_code_another_exits_with_when_stopped(
    engine: Engine,
) -> None:
    backend = engine.make()
    spec = engine.spec(
        'if [ "$SILKROUTE_RANK" = 1 ]; then '
        "while [ ! -e ready-0 ]; do sleep 0.05; done; exit 2; fi; "
        "trap 'exit 5' TERM; touch ready-0; while :; do sleep 0.2; done"
    )
    backend.submit(spec)
    status = engine.wait(backend, spec.run_id, lambda s: s.state.terminal)

    assert status.state is RunState.FAILED, status
    assert status.exit_code == 2, status


def test_a_new_backend_object_finds_running_runs_after_a_restart(engine: Engine) -> None:
    before = engine.make()
    spec = engine.spec(POLITE, workers=1)
    before.submit(spec)
    wait_for_files([spec.workdir / "ready-0"])
    del before

    after = engine.make()
    listed = {s.run_id: s for s in after.list_runs()}
    assert listed[spec.run_id].state is RunState.RUNNING
    assert after.submit(spec).state is RunState.RUNNING  # no second copy
    after.cancel(spec.run_id, grace_s=engine.grace_s)
    assert after.poll([spec.run_id])[spec.run_id].state is RunState.CANCELLED
    assert (spec.workdir / "term-0").exists()


def test_the_next_attempt_resumes_from_the_checkpoint_directory(engine: Engine) -> None:
    backend = engine.make()
    checkpoint = engine.root / f"ckpt-{engine.name}-{time.time_ns()}"
    # Each attempt adds one step to the checkpoint; the first one then crashes.
    step = (
        'f="$SILKROUTE_CHECKPOINT_DIR/step"; n=$(cat "$f" 2>/dev/null || echo 0); '
        'echo "resumed from $n" > "resumed-$SILKROUTE_ATTEMPT"; echo $((n + 1)) > "$f"; '
        '[ "$SILKROUTE_ATTEMPT" = 0 ] && exit 3; exit 0'
    )
    first = engine.spec(step, workers=1, attempt=0, job_id="job-ckpt", checkpoint=checkpoint)
    backend.submit(first)
    assert engine.wait(backend, first.run_id, lambda s: s.state.terminal).exit_code == 3
    second = engine.spec(step, workers=1, attempt=1, job_id="job-ckpt", checkpoint=checkpoint)
    backend.submit(second)
    status = engine.wait(backend, second.run_id, lambda s: s.state.terminal)

    assert status.state is RunState.SUCCEEDED, status
    assert (first.workdir / "resumed-0").read_text().strip() == "resumed from 0"
    assert (second.workdir / "resumed-1").read_text().strip() == "resumed from 1"
    assert (checkpoint / "step").read_text().strip() == "2"


def test_usage_is_the_engine_s_own_span_times_the_gang_s_accelerators(engine: Engine) -> None:
    backend = engine.make()
    if not isinstance(backend, UsageCapable) or "usage" not in backend.capabilities:
        pytest.skip(f"{engine.name} does not declare usage")
    spec = engine.spec(
        'date +%s.%N > "start-$SILKROUTE_RANK"; sleep 3; date +%s.%N > "end"', workers=2, gpus=1
    )
    backend.submit(spec)
    status = engine.wait(backend, spec.run_id, lambda s: s.state.terminal)
    usage = backend.usage([spec.run_id])[spec.run_id]

    assert status.state is RunState.SUCCEEDED
    assert usage.accelerators == 2.0
    assert usage.started_at is not None and usage.ended_at is not None
    job_began = min(float((spec.workdir / f"start-{r}").read_text()) for r in range(2))
    job_ended = float((spec.workdir / "end").read_text())
    # The engine's span covers what the job itself measured (Slurm keeps whole seconds).
    assert usage.started_at <= job_began + 1.0
    assert usage.ended_at >= job_ended - 1.0
    assert usage.ended_at - usage.started_at < (job_ended - job_began) + 30
    hours = usage.accelerator_hours(now=time.time())
    assert hours == pytest.approx(2.0 * (usage.ended_at - usage.started_at) / 3600.0)


def test_an_unknown_run_is_lost_and_cancelling_it_does_nothing(engine: Engine) -> None:
    backend = engine.make()
    assert backend.poll(["never-submitted"])["never-submitted"].state is RunState.LOST
    backend.cancel("never-submitted", grace_s=1.0)


@pytest.mark.parametrize("bad", ["", "-starts-with-dash", "has space", "semi;colon", "x" * 200])
def test_a_bad_run_id_is_refused_with_the_field_named(engine: Engine, bad: str) -> None:
    backend: Backend = engine.make()
    spec = engine.spec("true", workers=1)
    with pytest.raises(BackendError, match="run_id"):
        backend.submit(replace(spec, run_id=bad))
