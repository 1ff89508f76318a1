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

A rank that Slurm stops with SIGTERM because another rank failed (`--kill-on-bad-exit`)
exits 0, not 143, so the job's exit code (Slurm keeps the highest of its tasks) is the
failing rank's own.
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

_HOLD_AFTER_CANCEL_S = 300
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


def batch_script(spec: LaunchSpec, base_env: Mapping[str, str], *, pin_nodes: bool = False) -> str:
    """The batch script: common exports, then one `srun` step whose task i becomes rank i."""
    common = dict(base_env)
    common.update({k: v for k, v in worker_env(spec, 0).items() if k not in _RANK_VARIABLES})
    bad = sorted(k for k in common if not _ENV_NAME.fullmatch(k))
    if bad:
        raise BackendError(f"env: {', '.join(map(repr, bad))} cannot be a shell variable name")
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(common.items()))
    rank = _rank_script(spec, pin_nodes=pin_nodes)
    return f"""#!/bin/bash
{exports}
mkdir -p {shlex.quote(str(spec.checkpoint_dir))}
rank_script={shlex.quote(rank)}
cancelled=
trap 'cancelled=1; scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null' TERM
srun --label --kill-on-bad-exit=1 --export=ALL /bin/bash -c "$rank_script" &
srun_pid=$!
while :; do
  wait "$srun_pid"; rc=$?
  kill -0 "$srun_pid" 2>/dev/null || break
done
if [ -n "$cancelled" ]; then
  sleep {_HOLD_AFTER_CANCEL_S} & hold=$!
  wait "$hold"
  kill "$hold" 2>/dev/null
  exit 143
fi
exit "$rc"
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
    return f"""case {task} in
{body}
  *) echo "silkroute: no rank for task {task} in a gang of {spec.world_size}" >&2; exit 70 ;;
esac
if [ -n "${{CUDA_VISIBLE_DEVICES:-}}" ]; then export {ENV_ACCELERATORS}="$CUDA_VISIBLE_DEVICES"; fi
stopped=
trap 'stopped=1' TERM
/bin/bash -c {shlex.quote(shell_line(spec.command))} &
child=$!
while :; do
  wait "$child"; code=$?
  kill -0 "$child" 2>/dev/null || break
done
if [ -n "$stopped" ] && [ "$code" -gt 128 ]; then exit 0; fi
exit "$code"
"""
