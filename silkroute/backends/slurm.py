"""The Slurm back end: one run is one batch job, found again by its job name.

- submit: `sbatch` with the job name `<namespace>.<run_id>`; a run_id Slurm already has
  (running, pending or finished) is not submitted again.
- poll / list_runs: `scontrol -o show job` for every job the controller holds (live ones, and
  finished ones for `MinJobAge`), then the site's records of finished jobs, one code path with
  the source chosen once from `scontrol show config`:
  - with accounting (`AccountingStorageType` not `none`, i.e. slurmdbd): `sacct` is the
    record of finished jobs (state, exit code, start, end, `ElapsedRaw`, `AllocTRES`), asked
    by job id for the ones the controller reports finished and by job name for runs it no
    longer holds. sacct's record lags the controller by a moment: while it lags (or slurmdbd
    does not answer) a finished job's record is the controller's, which carries the same
    times. A run the controller does not hold while sacct does not answer is an error, never
    LOST.
  - without: the job completion log (`JobCompType=jobcomp/filetxt`), for runs the controller
    no longer holds.
- cancel: `scancel --batch --signal=TERM` (the batch shell forwards TERM to every rank, see
  `slurm_script`), wait for the ranks up to the grace period, `scancel --signal=KILL` the
  ranks still there, then `scancel` the job (which Slurm records as CANCELLED).
- usage: GPUs x run time from the record: sacct's `gres/gpu` in `AllocTRES` x `ElapsedRaw`;
  the controller's `TresPerTask` x tasks x (end - start). A run known only from the
  completion log (which keeps no GRES) has no usage: collect usage within `MinJobAge` of the
  end, or run slurmdbd.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from silkroute.backends.base import BackendError, LaunchSpec, RunState, RunStatus
from silkroute.backends.capabilities import RunUsage, check_run_id
from silkroute.backends.ray_gang import TIME_LIMIT_EXIT_CODE
from silkroute.backends.slurm_script import FENCED_SIGNAL, batch_script, job_name, sbatch_args
from silkroute.model.inventory import SiteInventory

_QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
_RUNNING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "RESIZING"}
_STATES: dict[str, RunState] = {
    **dict.fromkeys(_QUEUED, RunState.QUEUED),
    **dict.fromkeys(_RUNNING, RunState.RUNNING),
    "COMPLETED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "OUT_OF_MEMORY": RunState.FAILED,
    "TIMEOUT": RunState.FAILED,
    "DEADLINE": RunState.FAILED,
    "CANCELLED": RunState.CANCELLED,
    "PREEMPTED": RunState.CANCELLED,
    "NODE_FAIL": RunState.LOST,
    "BOOT_FAIL": RunState.LOST,
}
FENCED_BY_ENGINE = "the agent was gone and its lease had run out"
_UNREACHABLE = ("Unable to contact slurm controller", "Socket timed out", "Zero Bytes were")
_FIELD = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9:/_]*)=")
_GPUS = re.compile(r"gres:gpu(?::[^:,=]+)?[:=](\d+)")
_ALLOC_GPUS = re.compile(r"(?:^|,)gres/gpu=(\d+)")
# JobName last: a name may hold the separator, the other fields cannot.
_SACCT_FIELDS = (
    *("JobID", "State", "ExitCode", "Start", "End", "ElapsedRaw", "AllocTRES", "Reason"),
    "JobName",
)
_SACCT_BATCH = 200  # job ids or names per sacct call: keeps the command line short
# sacct looks at today's jobs only unless given a start (job ids excepted): a run looked up by
# name may have ended any time before, a listing of every run looks back a week.
_SACCT_SINCE = "2000-01-01T00:00:00"
_SACCT_LIST_SINCE = "now-7days"


@dataclass(frozen=True, slots=True)
class SlurmJob:
    """One job record: `scontrol -o show job`, a `sacct` line or a completion log line."""

    job_id: int
    name: str
    state: str
    exit_code: int | None
    started_at: float | None
    ended_at: float | None
    reason: str
    gpus: int | None  # None: the record does not say (the completion log keeps no GRES)
    stdout: str
    stderr: str
    elapsed_s: int | None = None  # sacct's ElapsedRaw: run time, suspended time left out
    fenced: bool = False  # its batch shell fenced the ranks (ended by FENCED_SIGNAL)

    @property
    def finished(self) -> bool:
        return _STATES.get(self.state, RunState.RUNNING).terminal


@dataclass(frozen=True, slots=True)
class SiteRecords:
    """Where a site keeps its finished jobs, read once from `scontrol show config`."""

    accounting: bool  # slurmdbd: sacct answers
    jobcomp: Path | None  # the completion log of `jobcomp/filetxt`


class SlurmBackend:
    name = "slurm"
    capabilities = frozenset({"logs", "usage"})

    def __init__(
        self,
        *,
        namespace: str = "silkroute",
        partition: str | None = None,
        pin_nodes: bool = False,
        log_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        job_path: str | None = None,
        poll_interval_s: float = 0.25,
        command_timeout_s: float = 60.0,
        agent_lease: Path | None = None,
    ) -> None:
        """`env` is the environment of the Slurm commands (e.g. `SLURM_CONF`); `job_path` the
        PATH jobs see (default: this process's). `pin_nodes` passes the placement's node names
        to `--nodelist` and runs rank i on workers[i].node: use it where site node names are
        Slurm node names (every node must then hold as many workers as the others).
        `agent_lease`: the agent's lease folder, on a file system the compute nodes share:
        each job's batch shell then fences its ranks itself once the agent is gone past its
        lease (`slurm_script`)."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", namespace):
            raise BackendError(f"namespace: {namespace!r} must be 1-64 letters, digits, _ or -")
        self.namespace = namespace
        self.partition = partition
        self.pin_nodes = pin_nodes
        self.log_dir = log_dir
        self._env = dict(os.environ if env is None else env)
        self._job_path = job_path or os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        self._poll_interval_s = poll_interval_s
        self._timeout_s = command_timeout_s
        self._records: SiteRecords | None = None  # looked up on first need
        self.agent_lease = agent_lease

    # --- the Backend protocol -------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> RunStatus:
        check_run_id(spec.run_id)
        if not spec.workers:
            raise BackendError("workers: a run needs at least one worker")
        known = self._jobs_by_run([spec.run_id]).get(spec.run_id)
        if known is not None:
            return _status(spec.run_id, known)
        spec.workdir.mkdir(parents=True, exist_ok=True)  # Slurm's --chdir needs it (shared fs)
        log_dir = self.log_dir or spec.workdir
        log_dir.mkdir(parents=True, exist_ok=True)
        args = sbatch_args(
            spec,
            namespace=self.namespace,
            log_dir=log_dir,
            partition=self.partition,
            pin_nodes=self.pin_nodes,
        )
        base_env = {"PATH": self._job_path}
        if "SLURM_CONF" in self._env:
            base_env["SLURM_CONF"] = self._env["SLURM_CONF"]
        script = batch_script(
            spec, base_env, pin_nodes=self.pin_nodes, agent_lease=self.agent_lease
        )
        out = self._run(["sbatch", *args], stdin=script)
        try:
            job_id = int(out.strip().split(";")[0])
        except ValueError as exc:
            raise BackendError(f"sbatch: unexpected answer {out.strip()!r}") from exc
        job = self._show_job(job_id)
        if job is None:
            return RunStatus(spec.run_id, RunState.QUEUED, message=f"slurm job {job_id}")
        return _status(spec.run_id, job)

    def poll(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        jobs = self._jobs_by_run(run_ids)
        return {
            run_id: _status(run_id, jobs[run_id])
            if run_id in jobs
            else RunStatus(run_id, RunState.LOST, message="slurm has no job for this run")
            for run_id in run_ids
        }

    def cancel(self, run_id: str, grace_s: float = 30.0) -> None:
        job = self._jobs_by_run([run_id]).get(run_id)
        if job is None or job.finished:
            return
        if job.state in _QUEUED:
            self._run(["scancel", str(job.job_id)], check=False)
            self._wait_terminal(job.job_id, 10.0)
            return
        self._run(["scancel", "--batch", "--signal=TERM", str(job.job_id)], check=False)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self._step_running(job.job_id):
            time.sleep(self._poll_interval_s)
        if self._step_running(job.job_id):
            # Only the ranks: a job-wide KILL is a cancel, which Slurm turns into TERM and
            # KILL only after its KillWait.
            self._run(["scancel", "--signal=KILL", f"{job.job_id}.0"], check=False)
        self._run(["scancel", str(job.job_id)], check=False)  # recorded as CANCELLED
        self._wait_terminal(job.job_id, 10.0)

    def list_runs(self) -> list[RunStatus]:
        return [_status(run_id, job) for run_id, job in sorted(self._jobs_by_run().items())]

    def inventory(self) -> SiteInventory:
        """Every node (of the partition, if one is set), from `scontrol -o show node`."""
        from silkroute.backends.slurm_nodes import parse_nodes  # it reads this module's parser

        out = self._run(["scontrol", "-o", "show", "node"])
        return SiteInventory(engine=self.name, nodes=parse_nodes(out, self.partition))

    # --- optional capabilities ------------------------------------------------------------

    def logs(self, run_id: str) -> str:
        """Standard output, then standard error (each rank's lines prefixed `<rank>: `)."""
        texts = [p.read_text(errors="replace") for p in self.log_paths(run_id) if p.exists()]
        return "".join(texts)

    def log_paths(self, run_id: str) -> list[Path]:
        """`stdout-<run_id>.log` and `stderr-<run_id>.log` (the local back end's naming)."""
        job = self._jobs_by_run([run_id]).get(run_id)
        if job is None:
            return []
        return [Path(p) for p in dict.fromkeys((job.stdout, job.stderr)) if p]

    def usage(self, run_ids: Sequence[str]) -> dict[str, RunUsage]:
        jobs = self._jobs_by_run(run_ids)
        return {
            run_id: RunUsage(
                run_id,
                float(job.gpus),
                status.started_at,
                status.ended_at,
                elapsed_s=job.elapsed_s if job.finished else None,
            )
            for run_id, job in jobs.items()
            if run_id in run_ids and job.gpus is not None
            for status in [_status(run_id, job)]
        }

    def site_records(self) -> SiteRecords:
        """Where this site keeps finished jobs: sacct (slurmdbd), the completion log, neither."""
        if self._records is None:
            config = _config(self._run(["scontrol", "show", "config"]))
            storage = config.get("AccountingStorageType", "accounting_storage/none")
            is_file = config.get("JobCompType") == "jobcomp/filetxt"
            self._records = SiteRecords(
                accounting=storage != "accounting_storage/none",
                jobcomp=Path(config["JobCompLoc"]) if is_file and "JobCompLoc" in config else None,
            )
        return self._records

    # --- reading Slurm's records ----------------------------------------------------------

    def _jobs_by_run(self, wanted: Collection[str] | None = None) -> dict[str, SlurmJob]:
        """Our runs by run_id (`wanted`: those; None: every one); when a name repeats (a
        resubmit by hand), the newest job wins.

        The controller answers for live jobs. The site's records are asked only where they
        add something: with accounting, for the jobs the controller reports finished and the
        runs it no longer holds; the completion log (it grows with every job the cluster ever
        ran) only for runs the controller no longer holds."""
        live = self._ours(self._controller_jobs())
        asked = [job for run, job in live.items() if wanted is None or run in wanted]
        missing = None if wanted is None else [run for run in wanted if run not in live]
        finished = [job.job_id for job in asked if job.finished]
        if not self.site_records().accounting:
            finished = []
        if missing == [] and not finished:
            return live
        recorded = self._ours(self._recorded_jobs(finished, missing))
        merged = {run: _newest(live.get(run), recorded.get(run)) for run in {*live, *recorded}}
        return {run: job for run, job in merged.items() if job is not None}

    def _ours(self, jobs: list[SlurmJob]) -> dict[str, SlurmJob]:
        prefix = job_name(self.namespace, "")
        found: dict[str, SlurmJob] = {}
        for job in sorted(jobs, key=lambda j: j.job_id):
            if job.name.startswith(prefix):
                found[job.name[len(prefix) :]] = job
        return found

    def _controller_jobs(self) -> list[SlurmJob]:
        # Checked: with no job at all scontrol says so and exits 0, so any failure (a busy
        # controller's "Resource temporarily unavailable" as much as an unreachable one) is
        # an error, never an empty list that would report every run LOST.
        out = self._run(["scontrol", "-o", "show", "job"])
        return _parse_jobs(out)

    def _show_job(self, job_id: int) -> SlurmJob | None:
        out = self._run(["scontrol", "-o", "show", "job", str(job_id)], check=False)
        lines = [line for line in out.splitlines() if line.startswith("JobId=")]
        return _parse_job(lines[0]) if lines else None

    def _recorded_jobs(self, job_ids: Sequence[int], runs: Sequence[str] | None) -> list[SlurmJob]:
        """Finished jobs from the site's records: these job ids, and the jobs of these runs
        (None: of every run). Unfiltered where the source cannot filter (the completion log)."""
        records = self.site_records()
        if not records.accounting:
            if records.jobcomp is None or not records.jobcomp.exists():
                return []
            return _parse_jobs(records.jobcomp.read_text(errors="replace"))
        jobs = []
        for ids in _batches([str(i) for i in job_ids]):
            # The controller still holds these: a sacct that does not answer costs nothing.
            jobs += _parse_sacct(self._sacct([f"--jobs={ids}"], check=False))
        if runs is None:
            jobs += _parse_sacct(self._sacct([f"--starttime={_SACCT_LIST_SINCE}"]))
        else:
            for names in _batches([job_name(self.namespace, run) for run in runs]):
                since = f"--starttime={_SACCT_SINCE}"
                jobs += _parse_sacct(self._sacct([since, f"--name={names}"]))
        return jobs

    def _sacct(self, selection: list[str], *, check: bool = True) -> str:
        fields = ",".join(_SACCT_FIELDS)
        argv = ["sacct", "--parsable2", "--noheader", "--allocations", f"--format={fields}"]
        return self._run([*argv, *selection], check=check)

    def _step_running(self, job_id: int) -> bool:
        out = self._run(["scontrol", "-o", "show", "step", f"{job_id}.0"], check=False)
        return out.startswith("StepId=")

    def _wait_terminal(self, job_id: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self._show_job(job_id)
            if job is None or job.finished:
                return
            time.sleep(self._poll_interval_s)

    def _run(self, argv: list[str], *, stdin: str | None = None, check: bool = True) -> str:
        try:
            done = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                env=self._env,
                timeout=self._timeout_s,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackendError(f"{argv[0]}: not found on PATH (is Slurm installed?)") from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"{argv[0]}: no answer within {self._timeout_s:.0f} s") from exc
        unreachable = any(sign in done.stderr for sign in _UNREACHABLE)
        if done.returncode != 0 and (check or unreachable):
            # An unreachable controller must never read as "no such job": that would report
            # every run LOST and invite a second copy elsewhere.
            raise BackendError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout


def _newest(live: SlurmJob | None, recorded: SlurmJob | None) -> SlurmJob | None:
    """One run's record from the controller's and the site's records: the newer job; for the
    same job the site's record once it has the end (times and GPUs as accounted), else the
    controller's (the site's record lags a moment behind)."""
    if live is None or recorded is None:
        return live or recorded
    if live.job_id != recorded.job_id:
        return live if live.job_id > recorded.job_id else recorded
    if not recorded.finished:
        return live
    return replace(
        recorded,
        gpus=live.gpus if recorded.gpus is None else recorded.gpus,
        stdout=live.stdout,
        stderr=live.stderr,
    )


def _batches(items: Sequence[str]) -> list[str]:
    return [",".join(items[i : i + _SACCT_BATCH]) for i in range(0, len(items), _SACCT_BATCH)]


def _status(run_id: str, job: SlurmJob) -> RunStatus:
    state = _STATES.get(job.state, RunState.RUNNING)
    if job.fenced and state.terminal:
        message = f"slurm job {job.job_id}: stopped by its batch shell: {FENCED_BY_ENGINE}"
        return RunStatus(
            run_id, RunState.CANCELLED, None, message, job.started_at, job.ended_at, True
        )
    exit_code = TIME_LIMIT_EXIT_CODE if job.state == "TIMEOUT" else job.exit_code
    detail = f"slurm job {job.job_id}: {job.state}"
    if job.reason and job.reason != "None":
        detail += f" ({job.reason})"
    return RunStatus(
        run_id,
        state,
        exit_code=exit_code if state in (RunState.SUCCEEDED, RunState.FAILED) else None,
        message=detail,
        started_at=job.started_at if state is not RunState.QUEUED else None,
        ended_at=job.ended_at if state.terminal else None,
    )


def _config(text: str) -> dict[str, str]:
    """`scontrol show config`: one `Key = value` a line, the key padded with spaces."""
    config = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            config[key.strip()] = value.strip()
    return config


def _fields(line: str) -> dict[str, str]:
    """`Key=Value Key=Value ...`; a value may hold spaces (the next `Key=` ends it)."""
    marks = list(_FIELD.finditer(line))
    fields: dict[str, str] = {}
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        end = after.start() if after is not None else len(line)
        fields[mark.group(1)] = line[mark.end() : end].strip()
    return fields


def _parse_jobs(text: str) -> list[SlurmJob]:
    """Every whole job record; a line cut short (the completion log's last line while
    slurmctld appends it) is skipped: the next read has it whole."""
    jobs = []
    for line in text.splitlines():
        if line.startswith("JobId="):
            try:
                jobs.append(_parse_job(line))
            except (ValueError, KeyError):
                continue
    return jobs


def _parse_job(line: str) -> SlurmJob:
    f = _fields(line)
    tasks = _leading_int(f.get("NumTasks", f.get("ProcCnt", "")))
    nodes = _leading_int(f.get("NumNodes", f.get("NodeCnt", "")))
    per_task = _GPUS.search(f.get("TresPerTask", ""))
    per_node = _GPUS.search(f.get("TresPerNode", ""))
    gpus: int | None = 0
    if per_task:
        gpus = int(per_task.group(1)) * tasks
    elif per_node:
        gpus = int(per_node.group(1)) * nodes
    elif "NumTasks" not in f:  # a completion-log line: it keeps no GRES
        gpus = None
    return SlurmJob(
        job_id=int(f["JobId"]),
        name=f.get("JobName", f.get("Name", "")),
        state=f.get("JobState", "UNKNOWN").split("+")[0],
        exit_code=_exit_code(f.get("ExitCode", "")),
        fenced=_fenced(f.get("ExitCode", "")),
        started_at=_time(f.get("StartTime", "")),
        ended_at=_time(f.get("EndTime", "")),
        reason=f.get("Reason", ""),
        gpus=gpus,
        stdout=f.get("StdOut", ""),
        stderr=f.get("StdErr", ""),
    )


def _parse_sacct(text: str) -> list[SlurmJob]:
    """`sacct --parsable2 --noheader --allocations --format=<_SACCT_FIELDS>` lines. A job id
    that is not a plain number (an array or heterogeneous job's) is not one of ours."""
    jobs = []
    for line in text.splitlines():
        values = line.split("|", len(_SACCT_FIELDS) - 1)
        if len(values) != len(_SACCT_FIELDS):
            continue
        f = dict(zip(_SACCT_FIELDS, values, strict=True))
        if not f["JobID"].isdigit():
            continue
        gpus = _ALLOC_GPUS.search(f["AllocTRES"])
        jobs.append(
            SlurmJob(
                job_id=int(f["JobID"]),
                name=f["JobName"],
                state=f["State"].split(" ")[0].rstrip("+"),  # `CANCELLED by 0`
                exit_code=_exit_code(f["ExitCode"]),
                fenced=_fenced(f["ExitCode"]),
                started_at=_time(f["Start"]),
                ended_at=_time(f["End"]),
                reason=f["Reason"],
                gpus=int(gpus.group(1)) if gpus else 0,
                stdout="",
                stderr="",
                elapsed_s=int(f["ElapsedRaw"]) if f["ElapsedRaw"].isdigit() else None,
            )
        )
    return jobs


def _leading_int(text: str) -> int:
    """`2`, or `1-1` (min-max nodes of a pending job): the first number; 1 when absent."""
    match = re.match(r"\d+", text)
    return int(match.group(0)) if match else 1


def _exit_code(text: str) -> int | None:
    """Slurm's `code:signal`; a process killed by signal s reports 128 + s, as a shell does."""
    if ":" not in text:
        return None
    code, signal = (int(x) for x in text.split(":", 1))
    return 128 + signal if signal else code


def _fenced(exit_code: str) -> bool:
    return exit_code == f"0:{FENCED_SIGNAL}"


def _time(text: str) -> float | None:
    """Slurm prints the controller's local time without a zone; this process shares it."""
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
