"""The Slurm back end's pieces that need no cluster: reading Slurm's records, writing scripts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from silkroute.backends.base import BackendError, LaunchSpec, RunState, WorkerPlacement
from silkroute.backends.capabilities import RunUsage
from silkroute.backends.slurm import (
    SlurmBackend,
    _config,
    _fields,
    _newest,
    _parse_job,
    _parse_jobs,
    _parse_sacct,
    _status,
)
from silkroute.backends.slurm_script import _rank_script, batch_script, sbatch_args
from tests.backends.slurm_cluster import missing_binaries

RUNNING = (
    "JobId=42 JobName=silkroute.run-1 UserId=root(0) JobState=RUNNING Reason=None "
    "ExitCode=0:0 StartTime=2026-11-30T10:00:00 EndTime=Unknown NumNodes=1 NumCPUs=2 "
    "NumTasks=2 Comment=silkroute:run=run-1:job=a b StdOut=/w/run-1.log "
    "TresPerTask=gres:gpu:2"
)
JOBCOMP = (
    "JobId=7 UserId=root(0) GroupId=root(0) Name=silkroute.r7 JobState=FAILED Partition=debug "
    "TimeLimit=UNLIMITED StartTime=2026-11-30T10:00:00 EndTime=2026-11-30T10:00:09 "
    "NodeList=localhost NodeCnt=1 ProcCnt=2 WorkDir=/tmp/x ReservationName= "
    "Tres=cpu=2,mem=8000M,node=1,billing=2 DerivedExitCode=0:0 ExitCode=3:0"
)


def _spec(tmp_path: Path, workers: int = 2, gpus: float = 1.0) -> LaunchSpec:
    return LaunchSpec(
        run_id="run-1",
        job_id="job 1",
        attempt=0,
        command=["python3", "-c", "print('it''s')"],
        workers=[WorkerPlacement("n1", (r,)) for r in range(workers)],
        workdir=tmp_path,
        checkpoint_dir=tmp_path / "ck",
        env={"QUOTED": "a 'b' $c"},
        accelerators_per_worker=gpus,
        cpu_per_worker=2,
        memory_gib_per_worker=3,
        time_limit_s=90,
    )


def test_a_value_with_spaces_ends_at_the_next_key() -> None:
    fields = _fields(RUNNING)
    assert fields["Comment"] == "silkroute:run=run-1:job=a b"
    assert fields["StdOut"] == "/w/run-1.log"


@pytest.mark.parametrize(
    ("line", "want_state", "want_code", "want_gpus", "want_ended"),
    [
        pytest.param(
            RUNNING, RunState.RUNNING, None, 4, False, id="a running job of the controller"
        ),
        pytest.param(
            JOBCOMP, RunState.FAILED, 3, None, True, id="a failed job from the completion log"
        ),
        pytest.param(
            RUNNING.replace("RUNNING", "CANCELLED+").replace("ExitCode=0:0", "ExitCode=0:9"),
            RunState.CANCELLED,
            None,
            4,
            True,
            id="a cancelled job has no exit code of its own",
        ),
        pytest.param(
            RUNNING.replace("JobState=RUNNING", "JobState=OUT_OF_MEMORY").replace(
                "ExitCode=0:0", "ExitCode=0:9"
            ),
            RunState.FAILED,
            137,
            4,
            True,
            id="a job killed by a signal reports 128 plus it",
        ),
        pytest.param(
            RUNNING.replace("JobState=RUNNING", "JobState=NODE_FAIL"),
            RunState.LOST,
            None,
            4,
            True,
            id="a node failure loses the run",
        ),
    ],
)
def test_job_records_map_to_run_states(
    line: str,
    want_state: RunState,
    want_code: int | None,
    want_gpus: int | None,
    want_ended: bool,
) -> None:
    job = _parse_job(
        line.replace("EndTime=Unknown", "EndTime=2026-11-30T10:00:05") if want_ended else line
    )
    status = _status("r", job)
    assert status.state is want_state
    assert status.exit_code == want_code
    assert job.gpus == want_gpus
    assert (status.ended_at is not None) is want_ended


def test_a_pending_job_has_no_start_time_even_when_slurm_estimates_one() -> None:
    line = RUNNING.replace("JobState=RUNNING", "JobState=PENDING").replace(
        "NumNodes=1", "NumNodes=1-1"
    )
    status = _status("r", _parse_job(line))
    assert status.state is RunState.QUEUED
    assert status.started_at is None


def test_sbatch_asks_for_the_gang_per_task(tmp_path: Path) -> None:
    args = sbatch_args(_spec(tmp_path, gpus=0.25), namespace="ns", log_dir=tmp_path)
    assert "--job-name=ns.run-1" in args
    assert "--ntasks=2" in args and "--nodes=1" in args
    assert "--gpus-per-task=1" in args  # a share of a device takes a whole one on Slurm
    assert "--cpus-per-task=2" in args and "--mem-per-cpu=1536M" in args
    assert "--time=2" in args
    assert "--export=NONE" in args and "--no-requeue" in args
    assert f"--output={tmp_path}/stdout-run-1.log" in args
    assert f"--error={tmp_path}/stderr-run-1.log" in args


def test_the_batch_script_is_valid_bash(tmp_path: Path) -> None:
    script = batch_script(_spec(tmp_path), {"PATH": "/usr/bin:/bin"})
    done = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("rank", [0, 1])
def test_each_task_becomes_its_rank_with_the_contract_s_variables(
    tmp_path: Path, rank: int
) -> None:
    spec = _spec(tmp_path)
    spec = replace(spec, command='echo "$SILKROUTE_RANK|$SILKROUTE_ACCELERATORS|$QUOTED"')
    done = subprocess.run(
        ["bash", "-c", _rank_script(spec)],
        env={"PATH": "/usr/bin:/bin", "SLURM_PROCID": str(rank), "QUOTED": "a 'b' $c"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == f"{rank}|{rank}|a 'b' $c"


def test_an_environment_name_a_shell_cannot_export_is_refused(tmp_path: Path) -> None:
    spec = replace(_spec(tmp_path), env={"GOOD": "1", "NOT-OK": "2"})
    with pytest.raises(BackendError, match="env: 'NOT-OK' cannot be a shell variable name"):
        batch_script(spec, {})


def test_a_task_beyond_the_gang_refuses_to_run(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", _rank_script(_spec(tmp_path))],
        env={"PATH": "/usr/bin:/bin", "SLURM_PROCID": "5"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 70
    assert "no rank for task 5" in done.stderr


def _run_rank(spec: LaunchSpec, rank: int) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SLURM_PROCID": str(rank), "SLURM_JOB_ID": "42"}
    return subprocess.run(
        ["bash", "-c", _rank_script(spec)], env=env, capture_output=True, text=True, check=False
    )


def test_the_first_failing_rank_records_its_code_and_a_later_failure_does_not_replace_it(
    tmp_path: Path,
) -> None:
    spec = replace(_spec(tmp_path), command="exit $((SILKROUTE_RANK + 6))")
    assert _run_rank(spec, 1).returncode == 7
    assert _run_rank(spec, 0).returncode == 6
    assert (tmp_path / ".silkroute-failed-42").read_text() == "1 7\n"


def test_a_rank_that_succeeds_records_nothing(tmp_path: Path) -> None:
    assert _run_rank(replace(_spec(tmp_path), command="true"), 0).returncode == 0
    assert not (tmp_path / ".silkroute-failed-42").exists()


@pytest.mark.parametrize(
    ("on_term", "want_code"),
    [("", 0), ("trap 'exit 5' TERM; ", 5)],
    ids=["a command ended by the signal exits 0", "a command exiting on its own keeps its code"],
)
def test_a_rank_stopped_by_sigterm_records_no_failure(
    tmp_path: Path, on_term: str, want_code: int
) -> None:
    spec = replace(_spec(tmp_path), command=f"{on_term}touch up; while :; do sleep 0.05; done")
    env = {"PATH": "/usr/bin:/bin", "SLURM_PROCID": "0", "SLURM_JOB_ID": "42"}
    # Its own process group: Slurm signals every process of a stopped task, as killpg does.
    rank = subprocess.Popen(
        ["bash", "-c", _rank_script(spec)], env=env, cwd=tmp_path, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "up").exists():
        assert time.monotonic() < deadline and rank.poll() is None, "the rank never started"
        time.sleep(0.05)
    os.killpg(rank.pid, signal.SIGTERM)
    assert rank.wait(timeout=30) == want_code
    assert not (tmp_path / ".silkroute-failed-42").exists()


def test_an_unreachable_controller_is_an_error_not_a_lost_run(tmp_path: Path) -> None:
    if missing_binaries():
        pytest.skip("Slurm not installed: apt-get install slurm-wlm munge (.ci/run does)")
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        "ClusterName=dead\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=1\n"
        f"AuthType=auth/munge\nAuthInfo=socket={tmp_path}/munge.socket\n"
        "NodeName=localhost CPUs=1 State=UNKNOWN\n"
        "PartitionName=debug Nodes=localhost Default=YES State=UP\n"
    )
    backend = SlurmBackend(env={**os.environ, "SLURM_CONF": str(conf)})
    with pytest.raises(BackendError, match="Unable to contact slurm controller"):
        backend.poll(["some-run"])


def test_any_failure_to_list_the_controllers_jobs_is_an_error_not_a_lost_run(
    tmp_path: Path,
) -> None:
    # A busy controller answers with errors the unreachable list does not name; with no job
    # at all scontrol says "No jobs in the system" and exits 0, so a failure is never "no
    # such job" (which would report the run LOST and start it a second time elsewhere).
    fake = tmp_path / "bin"
    fake.mkdir()
    scontrol = fake / "scontrol"
    scontrol.write_text(  # the site keeps no records: a LOST run would come from this list
        "#!/bin/sh\n"
        'if [ "$2" = config ]; then echo "AccountingStorageType = accounting_storage/none"; '
        "exit 0; fi\n"
        "echo 'slurm_load_jobs error: Resource temporarily unavailable' >&2\nexit 1\n"
    )
    scontrol.chmod(0o755)
    backend = SlurmBackend(env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    with pytest.raises(BackendError, match="Resource temporarily unavailable"):
        backend.poll(["some-run"])


@pytest.mark.parametrize(
    ("node", "local_id", "want_rank"),
    [("n2", 0, 0), ("n2", 1, 2), ("n1", 0, 1), ("n1", 1, 3)],
)
def test_with_pinned_nodes_a_task_is_the_rank_its_node_and_local_id_name(
    tmp_path: Path, node: str, local_id: int, want_rank: int
) -> None:
    spec = replace(
        _spec(tmp_path),
        command='echo "$SILKROUTE_RANK"',
        workers=[WorkerPlacement(n, (i,)) for i, n in enumerate(["n2", "n1", "n2", "n1"])],
    )
    done = subprocess.run(
        ["bash", "-c", _rank_script(spec, pin_nodes=True)],
        env={"PATH": "/usr/bin:/bin", "SLURMD_NODENAME": node, "SLURM_LOCALID": str(local_id)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == str(want_rank)


def test_pinned_nodes_need_as_many_workers_on_each(tmp_path: Path) -> None:
    spec = replace(_spec(tmp_path), workers=[WorkerPlacement(n) for n in ["n1", "n1", "n2"]])
    assert "--ntasks-per-node=1" in sbatch_args(
        replace(spec, workers=spec.workers[1:]), namespace="ns", log_dir=tmp_path, pin_nodes=True
    )
    with pytest.raises(BackendError, match="workers: with pinned nodes every node"):
        sbatch_args(spec, namespace="ns", log_dir=tmp_path, pin_nodes=True)


def test_a_completion_log_line_cut_short_is_skipped_until_it_is_whole() -> None:
    # slurmctld appends to the completion log while the back end reads it.
    text = f"{RUNNING}\nJobId="
    assert [job.job_id for job in _parse_jobs(text)] == [_parse_job(RUNNING).job_id]


# `sacct --parsable2 --noheader --allocations --format=JobID,State,ExitCode,Start,End,
# ElapsedRaw,AllocTRES,Reason,JobName`, as Slurm 22.05 prints it.
def sacct_line(
    state: str, exit_code: str, *, end: str = "2026-11-30T10:00:42", reason: str = "None"
) -> str:
    return (
        f"42|{state}|{exit_code}|2026-11-30T10:00:00|{end}|42|"
        f"billing=2,cpu=2,gres/gpu=2,node=1|{reason}|silkroute.run-1"
    )


@pytest.mark.parametrize(
    ("line", "want_state", "want_code", "want_ended"),
    [
        pytest.param(sacct_line("COMPLETED", "0:0"), RunState.SUCCEEDED, 0, True, id="completed"),
        pytest.param(
            sacct_line("FAILED", "3:0", reason="NonZeroExitCode"),
            RunState.FAILED,
            3,
            True,
            id="failed with its exit code",
        ),
        pytest.param(
            sacct_line("FAILED", "0:9"), RunState.FAILED, 137, True, id="killed by a signal"
        ),
        pytest.param(
            sacct_line("CANCELLED by 0", "0:15"),
            RunState.CANCELLED,
            None,
            True,
            id="cancelled, by whom in the state",
        ),
        pytest.param(
            sacct_line("TIMEOUT", "0:0", reason="TimeLimit"),
            RunState.FAILED,
            124,
            True,
            id="timeout exits 124 as on Ray and as coreutils' timeout",
        ),
        pytest.param(
            sacct_line("NODE_FAIL", "0:0", reason="NodeDown"),
            RunState.LOST,
            None,
            True,
            id="a node failure loses the run",
        ),
        pytest.param(
            sacct_line("REQUEUED", "0:0"),
            RunState.QUEUED,
            None,
            False,
            id="requeued waits again, its last start and end not its own",
        ),
        pytest.param(
            sacct_line("RUNNING", "0:0", end="Unknown"),
            RunState.RUNNING,
            None,
            False,
            id="running has no end yet",
        ),
    ],
)
def test_sacct_records_map_to_run_states(
    line: str, want_state: RunState, want_code: int | None, want_ended: bool
) -> None:
    [job] = _parse_sacct(line)
    status = _status("run-1", job)
    assert (job.job_id, job.name, job.gpus, job.elapsed_s) == (42, "silkroute.run-1", 2, 42)
    assert status.state is want_state
    assert status.exit_code == want_code
    assert (status.ended_at is not None) is want_ended
    assert (status.started_at is not None) is (want_state is not RunState.QUEUED)


def test_sacct_lines_that_are_not_single_jobs_are_skipped_and_a_name_may_hold_the_separator() -> (
    None
):
    text = "\n".join(
        [
            "7_1|COMPLETED|0:0|2026-11-30T10:00:00|2026-11-30T10:00:01|1||None|ns.array",
            "8|PENDING|0:0|Unknown|Unknown|0||Priority|ns.odd|name",
            "short|line",
        ]
    )
    [job] = _parse_sacct(text)
    assert (job.job_id, job.name, job.state, job.gpus) == (8, "ns.odd|name", "PENDING", 0)
    assert job.started_at is None and job.ended_at is None


CONTROLLER_DONE = RUNNING.replace("JobState=RUNNING", "JobState=COMPLETED").replace(
    "EndTime=Unknown", "EndTime=2026-11-30T10:00:42"
)


def test_while_sacct_lags_behind_the_controller_the_controller_s_record_stands() -> None:
    live = _parse_job(CONTROLLER_DONE)
    [lagging] = _parse_sacct(sacct_line("RUNNING", "0:0", end="Unknown"))
    assert _newest(live, lagging) is live


def test_once_sacct_has_the_end_its_record_is_the_run_s_with_the_controller_s_log_files() -> None:
    live = _parse_job(CONTROLLER_DONE)
    [recorded] = _parse_sacct(sacct_line("COMPLETED", "0:0"))
    merged = _newest(live, recorded)
    assert merged is not None
    assert (merged.state, merged.gpus, merged.elapsed_s) == ("COMPLETED", 2, 42)
    assert merged.stdout == "/w/run-1.log"


def test_a_newer_job_of_the_same_run_wins_whichever_record_holds_it() -> None:
    live = _parse_job(RUNNING)  # job 42
    [older] = _parse_sacct(sacct_line("FAILED", "1:0").replace("42|", "41|", 1))
    assert _newest(live, older) is live
    [newer] = _parse_sacct(sacct_line("FAILED", "1:0").replace("42|", "43|", 1))
    assert _newest(live, newer) is newer


def test_usage_of_an_ended_run_counts_the_engine_s_run_time_not_its_span() -> None:
    # Slurm's ElapsedRaw leaves out time a job spent suspended.
    suspended = RunUsage("r", 2.0, started_at=0.0, ended_at=7200.0, elapsed_s=3600.0)
    assert suspended.accelerator_hours(now=9999.0) == 2.0
    assert RunUsage("r", 2.0, 0.0, 7200.0).accelerator_hours(now=9999.0) == 4.0


def test_the_site_s_records_are_read_from_scontrol_s_padded_config() -> None:
    config = _config(
        "Configuration data as of 2026-11-30T19:21:52\n"
        "AccountingStorageType   = accounting_storage/slurmdbd\n"
        "JobCompLoc              = /var/log/slurm/jobcomp.txt\n"
        "JobCompType             = jobcomp/filetxt\n"
    )
    assert config["AccountingStorageType"] == "accounting_storage/slurmdbd"
    assert config["JobCompType"] == "jobcomp/filetxt"
    assert config["JobCompLoc"] == "/var/log/slurm/jobcomp.txt"
