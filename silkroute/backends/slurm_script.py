"""How one gang becomes one Slurm batch job: the `sbatch` options and the batch script.

The gang is one job with one `srun` step of `world_size` tasks; task `SLURM_PROCID` is rank
i and gets the job contract's variables for workers[i]. GPUs are asked per task
(`--gpus-per-task`), so Slurm binds distinct devices to each rank and sets
`CUDA_VISIBLE_DEVICES`; the rank's `SILKROUTE_ACCELERATORS` is what Slurm bound (the
placement's indices are only used where Slurm binds none).

Cancel with a grace period needs the job to end as CANCELLED, not COMPLETED, when the ranks
exit cleanly on SIGTERM. So the batch shell traps TERM (sent by `scancel --batch`), records
that a cancel began, forwards TERM to the step's tasks, and once they are gone waits for the
back end's final `scancel`, which Slurm records as CANCELLED (in squeue, the job completion
log and sacct alike). A batch shell whose back end died before that final scancel ends by
itself after `_HOLD_AFTER_CANCEL_S` with exit code 143.

A failed gang's exit code is its first failing rank's own, as on Ray and the local engine.
A rank whose command exits non-zero without having been sent SIGTERM records `<rank> <code>`
in the job's failure record, `<workdir>/.silkroute-failed-<job id>` (the work dir is on a
file system the nodes share), created exclusively (`set -C`: O_EXCL), so the first failure's
record stays. `--kill-on-bad-exit` then stops the other ranks with SIGTERM, and what they exit
with does not count: once `srun` returns, the batch shell exits with the recorded code (and
says so on stderr) and removes the record. That holds for a rank that SIGTERM reaches during
its shell's own start-up, before its trap is set, which dies by the signal (143): no trap
can close that window, the record does. Only where no rank recorded a failure (a rank's
shell killed outright, e.g. by the OOM killer; a work dir the nodes do not share) is the
code `srun`'s, the highest of its tasks' (128 + s for a task ended by signal s); a rank
stopped by SIGTERM exits 0 where its command ended by the signal, so that the fallback is
the failing rank's code too where every stopped rank had its trap. A cancel (above) and a
fence (below) end the batch shell as they did, whatever was recorded.

Engine-side fencing (`agent_lease`, where the agent's lease folder is on a file system the
compute nodes share): a watcher in the batch shell reads the agent's lease
(`backends/lease.py`, the same rule as the local runner's) and, once the lease has run out
with the agent gone, sends TERM to the ranks (unless a cancel is under way), KILL at the
lease's end plus the grace, and ends the batch shell by `FENCED_SIGNAL` once they are gone:
Slurm records the job FAILED with exit code `0:<FENCED_SIGNAL>`, which the back end reports
as cancelled and fenced (a job's own ranks cannot end the batch shell by a signal).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from silkroute.backends.base import (
    ENV_ACCELERATORS,
    ENV_RANK,
    BackendError,
    LaunchSpec,
    worker_env,
)
from silkroute.backends.capabilities import shell_line
from silkroute.backends.lease import AGENT_SILENT_S, ALIVE_FILE, LEASE_FILE

_HOLD_AFTER_CANCEL_S = 300
FENCED_SIGNAL = 12  # SIGUSR2: the batch shell ends by it once it fenced its ranks
_RANK_VARIABLES = (ENV_RANK, ENV_ACCELERATORS)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def job_name(namespace: str, run_id: str) -> str:
    return f"{namespace}.{run_id}"


def gpus_per_task(spec: LaunchSpec) -> int:
    """Slurm allocates whole devices: a share of one device (0 < x < 1) takes a whole one."""
    return math.ceil(spec.accelerators_per_worker) if spec.accelerators_per_worker > 0 else 0


def sbatch_args(
    spec: LaunchSpec,
    *,
    namespace: str,
    log_dir: Path,
    partition: str | None = None,
    pin_nodes: bool = False,
) -> list[str]:
    nodes = list(dict.fromkeys(w.node for w in spec.workers))
    cpus = max(1, math.ceil(spec.cpu_per_worker))
    args = [
        "--parsable",
        f"--job-name={job_name(namespace, spec.run_id)}",
        f"--comment={namespace}:run={spec.run_id}:job={spec.job_id}:attempt={spec.attempt}",
        f"--output={log_dir / f'stdout-{spec.run_id}.log'}",
        f"--error={log_dir / f'stderr-{spec.run_id}.log'}",
        f"--chdir={spec.workdir}",
        f"--ntasks={spec.world_size}",
        f"--nodes={len(nodes)}",
        f"--cpus-per-task={cpus}",
        f"--mem-per-cpu={max(1, math.ceil(spec.memory_gib_per_worker * 1024 / cpus))}M",
        # The job's environment is exactly the script's exports, never the agent's own
        # (which may hold credentials).
        "--export=NONE",
        # Retries are the platform's decision (a new run_id per attempt), never Slurm's.
        "--no-requeue",
    ]
    if gpus_per_task(spec):
        args.append(f"--gpus-per-task={gpus_per_task(spec)}")
    if spec.time_limit_s is not None:
        args.append(f"--time={max(1, math.ceil(spec.time_limit_s / 60))}")
    if partition:
        args.append(f"--partition={partition}")
    if pin_nodes:
        per_node = {sum(1 for w in spec.workers if w.node == node) for node in nodes}
        if len(per_node) != 1:
            raise BackendError(
                "workers: with pinned nodes every node must hold the same number of workers "
                "(Slurm's arbitrary distribution is not used)"
            )
        args += [f"--nodelist={','.join(nodes)}", f"--ntasks-per-node={per_node.pop()}"]
    return args


def batch_script(
    spec: LaunchSpec,
    base_env: Mapping[str, str],
    *,
    pin_nodes: bool = False,
    agent_lease: Path | None = None,
) -> str:
    """The batch script: common exports, then one `srun` step whose task i becomes rank i;
    with `agent_lease`, the lease's watcher beside it."""
    common = dict(base_env)
    common.update({k: v for k, v in worker_env(spec, 0).items() if k not in _RANK_VARIABLES})
    bad = sorted(k for k in common if not _ENV_NAME.fullmatch(k))
    if bad:
        raise BackendError(f"env: {', '.join(map(repr, bad))} cannot be a shell variable name")
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(common.items()))
    rank = _rank_script(spec, pin_nodes=pin_nodes)
    watch = "" if agent_lease is None else _lease_watch(agent_lease)
    fenced = "" if agent_lease is None else _FENCED_END
    failure_record = _failure_record(spec)
    return f"""#!/bin/bash
{exports}
mkdir -p {shlex.quote(str(spec.checkpoint_dir))}
rank_script={shlex.quote(rank)}
cancelled=
stop_mark=".silkroute-stopping-$SLURM_JOB_ID"
fence_mark=".silkroute-fenced-$SLURM_JOB_ID"
failure_record={failure_record}
trap 'cancelled=1; : > "$stop_mark"; scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null' TERM
srun --label --kill-on-bad-exit=1 --export=ALL /bin/bash -c "$rank_script" &
srun_pid=$!
{watch}while :; do
  wait "$srun_pid"; rc=$?
  kill -0 "$srun_pid" 2>/dev/null || break
done
{_FIRST_FAILURE}{fenced}if [ -n "$cancelled" ]; then
  sleep {_HOLD_AFTER_CANCEL_S} & hold=$!
  wait "$hold"
  kill "$hold" 2>/dev/null
  exit 143
fi
exit "$rc"
"""


# The lease rule of `lease.fence_action` in awk (any node has it): none, stop or kill.
_FENCE_ACTION = r"""
{ gsub(/[{}" ]/, ""); n = split($0, kv, ",");
  for (i = 1; i <= n; i++) { split(kv[i], p, ":"); v[p[1]] = p[2] + 0 } }
END {
  if (!("renewed_at" in v) || !("lease_s" in v) || !("grace_s" in v)) { print "none"; exit }
  ends = v["renewed_at"] + v["lease_s"]
  if (now < ends || (alive >= 0 && now - alive < silent)) { print "none"; exit }
  if (now >= ends + v["grace_s"]) { print "kill"; exit }
  print (stopping ? "none" : "stop")
}"""


def _lease_watch(folder: Path) -> str:
    """A background loop of the batch shell: the lease's rule on the agent's lease folder."""
    lease, alive = shlex.quote(str(folder / LEASE_FILE)), shlex.quote(str(folder / ALIVE_FILE))
    return f"""fence_action() {{
  [ -r {lease} ] || {{ echo none; return; }}
  awk -v now="$(date +%s.%N)" -v alive="$(stat -c %Y {alive} 2>/dev/null || echo -1)" \\
    -v silent={AGENT_SILENT_S} -v stopping="$1" {shlex.quote(_FENCE_ACTION)} {lease}
}}
(
  trap - TERM
  while sleep 0.5; do
    stopping=; [ -e "$stop_mark" ] || [ -e "$fence_mark" ] && stopping=1
    case "$(fence_action "$stopping")" in
      stop)
        : > "$fence_mark"
        echo "silkroute: stopping the ranks: the agent is gone and its lease ran out" >&2
        scancel --signal=TERM "$SLURM_JOB_ID.0" 2>/dev/null ;;
      kill) scancel --signal=KILL "$SLURM_JOB_ID.0" 2>/dev/null ;;
    esac
  done
) &
watcher=$!
"""


def _failure_record(spec: LaunchSpec) -> str:
    """The job's failure record (shell text): in the work dir, which every node shares,
    beside the batch shell's stop and fence marks; named per job, so a job reads no other's."""
    return f'{shlex.quote(str(spec.workdir))}/".silkroute-failed-$SLURM_JOB_ID"'


# Once the ranks are gone: the first failing rank's own code, where one recorded it (see the
# module doc); never a failure where srun reports success.
_FIRST_FAILURE = """first=$(cat "$failure_record" 2>/dev/null)
rm -f "$failure_record"
read -r failed_rank failed_code <<< "$first"
case "$failed_code" in
  ''|*[!0-9]*) ;;
  *) if [ "$rc" -ne 0 ]; then
       echo "silkroute: rank $failed_rank failed first, with exit code $failed_code" >&2
       rc=$failed_code
     fi ;;
esac
"""


# Once the ranks are gone: a fenced job ends by FENCED_SIGNAL (see the module doc).
_FENCED_END = f"""kill "$watcher" 2>/dev/null
if [ -e "$fence_mark" ]; then trap - TERM; kill -{FENCED_SIGNAL} $$; fi
"""


def _rank_script(spec: LaunchSpec, *, pin_nodes: bool = False) -> str:
    """Which rank this task is: its SLURM_PROCID, or with pinned nodes the placement's rank
    for (node, local task id), so rank i runs on workers[i].node whatever order Slurm
    numbers the nodes in."""
    cases = []
    local: dict[str, int] = {}
    for rank in range(spec.world_size):
        env = worker_env(spec, rank)
        assigns = " ".join(f"{k}={shlex.quote(env[k])}" for k in _RANK_VARIABLES)
        node = spec.workers[rank].node
        local[node] = local.get(node, -1) + 1
        key = f"{node}:{local[node]}" if pin_nodes else str(rank)
        cases.append(f"  {shlex.quote(key)}) export {assigns} ;;")
    body = "\n".join(cases)
    task = '"$SLURMD_NODENAME:$SLURM_LOCALID"' if pin_nodes else '"$SLURM_PROCID"'
    # The trap first: it keeps the window in which SIGTERM kills the rank's shell to the
    # shell's own start-up (where the failure record outweighs the signal, see the module
    # doc). `set -C`: the record is created exclusively, the first failure's stays.
    # The command runs in the foreground: bash runs the trap once it is gone, and `$?` is
    # its own code (Slurm signals every process of a stopped task, the command's too). A
    # `wait` on it in the background, cut short by the trap, said 143, and bash could lose
    # the status of a child it reaped meanwhile.
    return f"""stopped=
trap 'stopped=1' TERM
record_failure() {{
  (set -C; echo "$1 $2" > {_failure_record(spec)}) 2>/dev/null
}}
case {task} in
{body}
  *) echo "silkroute: no rank for task {task} in a gang of {spec.world_size}" >&2
     record_failure {task} 70; exit 70 ;;
esac
if [ -n "${{CUDA_VISIBLE_DEVICES:-}}" ]; then export {ENV_ACCELERATORS}="$CUDA_VISIBLE_DEVICES"; fi
/bin/bash -c {shlex.quote(shell_line(spec.command))}
code=$?
if [ -n "$stopped" ] && [ "$code" -gt 128 ]; then exit 0; fi
if [ -z "$stopped" ] && [ "$code" -ne 0 ]; then record_failure "${ENV_RANK}" "$code"; fi
exit "$code"
"""
