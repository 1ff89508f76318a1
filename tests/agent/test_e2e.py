"""End to end through the platform, against every engine: a real control plane process, real
`silkroute agent` processes, and the real engine (local processes, a Slurm cluster, a Ray
cluster; an engine missing here is skipped, saying why).

Each site here matches the test engines' inventory: 2 nodes x 2 accelerators.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from silkroute.backends.base import Backend, RunState
from silkroute.backends.capabilities import UsageCapable
from silkroute.backends.local import LocalBackend
from tests.agent.harness import CLI, ControlPlane, site, wait_until
from tests.engines import LOCAL_AGENT_ARGS, Engine

pytestmark = pytest.mark.slow


def engine_site(plane: ControlPlane, engine: Engine, name: str = "edge") -> None:
    plane.add_site(site(name, "T4", nodes=2, per_node=2, cpu=2))
    agent = plane.agent(name, engine.agent_args, engine.agent_env or None)
    agent.start()
    wait_until(f"site {name} up", lambda: plane.site_state(name) == "up", 90)


def job(**fields: Any) -> dict[str, Any]:
    return {"cpu_per_worker": 1, "memory_gib_per_worker": 0.5, "accelerator_types": ["T4"]} | {
        "name": "e2e",
        **fields,
    }


# Counts to STEPS, one step per 0.1 s, keeping each rank's last step in the job's checkpoint
# folder; resumes from there; on SIGTERM says where it stopped and exits. Where `held` (a
# shell test) holds, the count stops at HELD_AT and waits there until the run is stopped: a
# run the test means to stop never finishes first, however slow the machine is meanwhile.
HELD_AT = 5


def counting(steps: int, held: str = "false") -> str:
    return (
        'mkdir -p "$SILKROUTE_CHECKPOINT_DIR"; '
        'ck="$SILKROUTE_CHECKPOINT_DIR/step-$SILKROUTE_RANK"; '
        's=$(cat "$ck" 2>/dev/null || echo 0); '
        'echo "attempt $SILKROUTE_ATTEMPT at $SILKROUTE_SITE resumes at $s"; '
        "trap 'echo \"stopped at $s\"; exit 0' TERM; "
        f'while [ "$s" -lt {steps} ]; do '
        f'if {held} && [ "$s" -ge {HELD_AT} ]; then sleep 0.1; continue; fi; '
        's=$((s+1)); echo "$s" > "$ck"; sleep 0.1; done; '
        'echo "finished at $s"'
    )


def engine_backend(plane: ControlPlane, engine: Engine, site: str = "edge") -> Backend:
    """The back end the site's agent uses, as a second client of the same engine."""
    if engine.name == "local":
        return LocalBackend(plane.root / f"agent-{site}" / "engine")
    return engine.make(namespace=plane.namespace)


def checkpoint_step(plane: ControlPlane) -> int:
    files = list((plane.root / "checkpoints").glob("job*-checkpoints/step-0"))
    try:
        return int(files[0].read_text().strip()) if files else 0
    except ValueError:
        return 0


def test_a_gang_job_runs_on_the_sites_engine_and_its_output_comes_back(
    plane: ControlPlane, engine: Engine
) -> None:
    engine_site(plane, engine)
    token = plane.tenant("t1")
    # Runs for over a second: Slurm records start and end in whole seconds, so a run that ends
    # within the second it started has no accelerator-hours to compare with the ledger.
    command = 'echo "rank $SILKROUTE_RANK of $SILKROUTE_WORLD_SIZE at $SILKROUTE_SITE"; sleep 2'
    submitted = plane.call(
        "POST", "/v1/jobs", token, json=job(workers=2, accelerators_per_worker=1, command=command)
    )
    done = plane.wait_job(token, submitted["id"], ("succeeded", "failed", "cancelled"))
    assert done["state"] == "succeeded", done
    assert done["site"] == "edge" and done["exit_code"] == 0
    out = plane.logs(token, done["id"])
    assert "rank 0 of 2 at edge" in out, out
    if engine.name != "local":  # Slurm and Ray merge every rank's output into one log
        assert "rank 1 of 2 at edge" in out, out
    cli = subprocess.run(
        [CLI, "logs", str(done["id"]), "--url", plane.url, "--token", token],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0 and "rank 0 of 2 at edge" in cli.stdout, cli
    # The ledger's accelerator-hours agree with the engine's own record of the run (1%).
    backend = engine_backend(plane, engine)
    if isinstance(backend, UsageCapable) and "usage" in backend.capabilities:
        run_id = done["runs"][0]["run_id"]
        engine_hours = backend.usage([run_id])[run_id].accelerator_hours(time.time())
        rows = plane.call("GET", "/v1/usage")["rows"]
        ledger = sum(r["accelerator_hours"] for r in rows if r["site"] == "edge")
        assert engine_hours > 0 and ledger == pytest.approx(engine_hours, rel=0.01)


def test_cancelling_a_running_job_stops_it_on_the_engine(
    plane: ControlPlane, engine: Engine, tmp_path: Path
) -> None:
    engine_site(plane, engine)
    token = plane.tenant("t1")
    marker = tmp_path / "term"
    command = (
        f"trap 'echo term >> {marker}; exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    )
    submitted = plane.call("POST", "/v1/jobs", token, json=job(command=command))
    plane.wait_job(token, submitted["id"], ("running",))
    plane.wait_output(token, submitted["id"], "ready")
    plane.call("DELETE", f"/v1/jobs/{submitted['id']}", token)
    done = plane.wait_job(token, submitted["id"], ("cancelled", "failed", "succeeded"))
    assert done["state"] == "cancelled", done
    assert done["runs"][0]["outcome"] == RunState.CANCELLED.value
    wait_until("the job saw SIGTERM", lambda: marker.exists() and "term" in marker.read_text())
    # The engine agrees: the run is over there too.
    backend = engine_backend(plane, engine)
    status = backend.poll([done["runs"][0]["run_id"]])[done["runs"][0]["run_id"]]
    assert status.state.terminal, status


def test_a_preempted_job_resumes_from_its_checkpoint(plane: ControlPlane, engine: Engine) -> None:
    engine_site(plane, engine)
    token = plane.tenant("t1", max_priority="high")  # new tenants stop at "normal"
    low = plane.call(
        "POST",
        "/v1/jobs",
        token,
        json=job(
            name="low",
            workers=2,
            accelerators_per_worker=2,  # the whole site
            priority="low",
            preemptible=True,
            # Its first attempt waits at step 5 for the preemption, however late it comes.
            command=counting(40, held='[ "$SILKROUTE_ATTEMPT" = 1 ]'),
        ),
    )
    plane.wait_output(token, low["id"], "attempt 1 at edge resumes at 0")
    wait_until("the low job checkpoints", lambda: checkpoint_step(plane) >= HELD_AT)
    high = plane.call(
        "POST",
        "/v1/jobs",
        token,
        json=job(name="high", accelerators_per_worker=2, priority="high", command="echo high"),
    )
    urgent = plane.wait_job(token, high["id"], ("succeeded", "failed"))
    assert urgent["state"] == "succeeded", urgent
    done = plane.wait_job(token, low["id"], ("succeeded", "failed", "cancelled"))
    assert done["state"] == "succeeded", done
    first, second = done["runs"][0], done["runs"][1]
    assert first["outcome"] == RunState.CANCELLED.value
    assert first["ended_at"] <= urgent["runs"][0]["started_at"], "the runs overlapped"
    out = plane.logs(token, low["id"])
    resumed = [line for line in out.splitlines() if "attempt 2 at edge resumes at" in line]
    assert resumed and int(resumed[0].rsplit(" ", 1)[1]) >= 5, out
    assert "finished at 40" in out and second["outcome"] == RunState.SUCCEEDED.value


def test_an_agent_killed_mid_job_has_its_job_requeued_and_finished_at_another_site(
    plane: ControlPlane, engine: Engine
) -> None:
    engine_site(plane, engine)
    plane.add_site(site("spare", "T4", nodes=2, per_node=2, cpu=2))
    spare = plane.agent("spare", LOCAL_AGENT_ARGS)  # waits until started: no work yet
    token = plane.tenant("t1")
    submitted = plane.call(
        "POST",
        "/v1/jobs",
        token,
        # Held at edge: it cannot finish there before its agent is killed, and the run left
        # behind there (Slurm, Ray) is still going when that agent comes back.
        json=job(
            accelerators_per_worker=1,
            preemptible=True,
            command=counting(60, held='[ "$SILKROUTE_SITE" = edge ]'),
        ),
    )
    plane.wait_output(token, submitted["id"], "attempt 1 at edge resumes at 0")
    wait_until("the job checkpoints", lambda: checkpoint_step(plane) >= 3)
    spare.start()
    wait_until("site spare up", lambda: plane.site_state("spare") == "up", 90)
    edge = plane.agents[0]
    edge.kill9()
    wait_until("site edge down", lambda: plane.site_state("edge") == "down", 60)
    # The job moves once its agent's lease and grace have run out. The agent is dead: on
    # the local engine the rank's runner stopped the run at the lease (engine-side fencing);
    # Slurm's and Ray's runs go on (see the lease's residual risks in docs/agents.md).
    moved = wait_until(
        "the job runs at spare",
        lambda: (
            (j := plane.job(token, submitted["id"]))["site"] == "spare"
            and j["state"] in ("running", "succeeded")
            and j
        ),
        90,
    )
    lost = moved["runs"][0]
    assert lost["site"] == "edge" and lost["outcome"] == RunState.LOST.value
    assert "site-down" in [e["reason"] for e in moved["events"]]
    backend = engine_backend(plane, engine)
    if engine.name == "local":
        old = backend.poll([lost["run_id"]])[lost["run_id"]]
        assert old.state is RunState.CANCELLED and old.fenced, old
        assert old.ended_at is not None and old.ended_at <= lost["ended_at"], (old, lost)
    # The restarted agent finds the old run still going on its engine (Slurm, Ray) and
    # stops it (an orphan): the job runs at one site only.
    edge.start()
    wait_until("site edge up again", lambda: plane.site_state("edge") == "up", 90)
    orphan = wait_until(
        "the orphan stopped",
        lambda: (s := backend.poll([lost["run_id"]])[lost["run_id"]]).state.terminal and s,
        90,
    )
    assert orphan.state is RunState.CANCELLED, orphan
    done = plane.wait_job(token, submitted["id"], ("succeeded", "failed", "cancelled"))
    assert done["state"] == "succeeded" and done["site"] == "spare", done
    out = plane.logs(token, submitted["id"])
    resumed = [line for line in out.splitlines() if "attempt 2 at spare resumes at" in line]
    assert resumed and int(resumed[0].rsplit(" ", 1)[1]) >= 3, out


def sacct_accelerator_hours(engine: Engine, job_name: str) -> float | None:
    """Slurm's own accounting of an ended job, read with the `sacct` command: ElapsedRaw x
    the `gres/gpu` count in AllocTRES. None until slurmdbd has the job's end."""
    query = [f"--name={job_name}", "--starttime=now-1days", "--format=State,ElapsedRaw,AllocTRES"]
    done = subprocess.run(
        ["sacct", "--parsable2", "--noheader", "--allocations", *query],
        env=engine.agent_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = done.stdout.split()
    if len(lines) != 1 or not lines[0].startswith("COMPLETED|"):
        return None
    _, elapsed, tres = lines[0].split("|")
    gpus = re.search(r"(?:^|,)gres/gpu=(\d+)", tres)
    assert gpus is not None, tres
    return int(elapsed) * int(gpus.group(1)) / 3600.0


@pytest.mark.xdist_group("slurm")
def test_the_ledger_s_accelerator_hours_agree_with_slurm_s_sacct(
    plane: ControlPlane, slurm_engine: Engine
) -> None:
    if not slurm_engine.accounting:
        pytest.skip(
            "the test Slurm cluster runs without accounting (slurmdbd or mariadbd missing): "
            "apt-get install slurmdbd mariadb-server (.ci/run does)"
        )
    engine_site(plane, slurm_engine)
    token = plane.tenant("t1")
    # Over a second: sacct counts whole seconds.
    submitted = plane.call(
        "POST", "/v1/jobs", token, json=job(workers=2, accelerators_per_worker=1, command="sleep 2")
    )
    done = plane.wait_job(token, submitted["id"], ("succeeded", "failed", "cancelled"))
    assert done["state"] == "succeeded", done
    name = f"{plane.namespace}.{done['runs'][0]['run_id']}"
    slurm_hours = wait_until(
        "sacct records the job's end", lambda: sacct_accelerator_hours(slurm_engine, name), 60
    )
    [row] = [r for r in plane.call("GET", "/v1/usage")["rows"] if r["site"] == "edge"]
    assert row["jobs"] == 1
    assert slurm_hours >= 2 * 2 / 3600.0
    assert row["accelerator_hours"] == pytest.approx(slurm_hours, rel=0.01)
