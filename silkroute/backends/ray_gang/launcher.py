"""The driver of one gang on Ray: `python -m ray_gang.launcher`, its plan in $SILKROUTE_GANG_PLAN.

Shipped to the cluster with the job (`runtime_env.py_modules`), so it imports only the
standard library and Ray, never silkroute. The plan (JSON, written by
`silkroute.backends.ray`) names the command, each rank's environment and the bundle of one
worker. The gang is one placement group (all ranks start together or none does); rank i runs
the command in a subprocess of actor i, which holds bundle i. Output is relayed to the
driver's stdout as `<rank>: <line>`, so the job log reads like `srun --label`.

SIGTERM (Ray's `stop_job`) reaches only this driver; it forwards SIGTERM to every rank's
process group, waits up to the grace period, then kills. When one rank fails, the others are
stopped the same way (a gang runs whole or not at all) and the driver exits with that rank's
code. Past the plan's time limit every rank is stopped the same way and the driver exits 124.

With `lease_dir` in the plan (the agent's lease folder, on a file system this node shares),
the driver fences its gang itself once the agent's lease has run out with the agent gone
(`lease.py`): the ranks are stopped the same way, killed at the lease's end plus the grace,
and the driver exits `FENCED_EXIT_CODE`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from . import FENCED_EXIT_CODE, FENCED_LINE, PLAN_VARIABLE, TIME_LIMIT_EXIT_CODE
from .lease import FenceAction, agent_silent_s, fence_action, next_look_s, read_lease

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A rank's process must not outlive its actor (Ray kills actors without a grace)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@ray.remote
class Rank:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._pump_thread: threading.Thread | None = None

    def start(self, command: str, env: dict[str, str], workdir: str, var: str, label: str) -> str:
        """Start the rank's process; answer the node it runs on (its label, else its id)."""
        env = {**{k: v for k, v in os.environ.items() if k != PLAN_VARIABLE}, **env}
        gpu_ids = ray.get_gpu_ids()
        if gpu_ids:  # the devices Ray bound to this rank (it also set CUDA_VISIBLE_DEVICES)
            env[var] = ",".join(str(g) for g in gpu_ids)
        self._proc = subprocess.Popen(
            ["/bin/bash", "-c", command],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        context = ray.get_runtime_context()
        return str(context.get_node_labels().get(label) or context.get_node_id()[:12])

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            with self._lock:
                self._lines.append(line)

    def drain(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    def wait(self) -> int:
        assert self._proc is not None
        code = self._proc.wait()
        # The pump may not have read the last lines yet: the gang's final relay must see them.
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=10)
        return 128 - code if code < 0 else code

    def terminate(self, grace_s: float) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


class Gang:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.stop_requested = False
        self.stopping = False
        self.fenced = False  # stopped by the lease (`watch_lease`)
        self.stop_grace_s: float | None = None  # the fence's grace: until the lease's kill

    def run(self) -> int:
        plan = self.plan
        ranks = plan["ranks"]
        bundle = {k: float(v) for k, v in plan["bundle"].items() if float(v) > 0}
        group = placement_group(
            [dict(bundle) for _ in ranks],
            strategy=plan["strategy"],
            bundle_label_selector=plan.get("node_selectors"),
        )
        print(f"silkroute: waiting for {len(ranks)} bundles of {bundle}", flush=True)
        while not self.stop_requested:
            ready, _ = ray.wait([group.ready()], timeout=0.5)
            if ready:
                break
        if self.stop_requested:
            return FENCED_EXIT_CODE if self.fenced else 143
        actors = [
            Rank.options(  # type: ignore[attr-defined]
                num_cpus=bundle.get("CPU", 0),
                num_gpus=bundle.get("GPU", 0),
                max_concurrency=4,
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    placement_group=group, placement_group_bundle_index=i
                ),
            ).remote()
            for i in range(len(ranks))
        ]
        nodes = ray.get(
            [
                a.start.remote(
                    plan["command"],
                    r["env"],
                    plan["workdir"],
                    plan["accelerators_var"],
                    plan["node_label"],
                )
                for a, r in zip(actors, ranks, strict=True)
            ]
        )
        print(f"silkroute: {len(ranks)} ranks started", flush=True)
        for rank, node in enumerate(nodes):
            print(f"silkroute: rank {rank} on node {node}", flush=True)
        return self._supervise(actors)

    def _supervise(self, actors: list[Any]) -> int:
        waits = {a.wait.remote(): rank for rank, a in enumerate(actors)}
        codes: dict[int, int] = {}
        first_failure: int | None = None
        limit = self.plan.get("time_limit_s")
        deadline = time.monotonic() + float(limit) if limit else None
        timed_out = False
        while waits:
            done, _ = ray.wait(list(waits), num_returns=len(waits), timeout=0.3)
            self._relay(actors)
            for ref in done:
                rank = waits.pop(ref)
                codes[rank] = ray.get(ref)
                if codes[rank] != 0 and first_failure is None and not self.stopping:
                    first_failure = rank
            if deadline is not None and time.monotonic() > deadline and not self.stopping:
                print(f"silkroute: time limit of {limit} s reached", flush=True)
                timed_out = True
            if (
                self.stop_requested or first_failure is not None or timed_out
            ) and not self.stopping:
                self.stopping = True
                grace = float(self.plan["grace_s"])
                if self.stop_grace_s is not None:
                    grace = min(grace, self.stop_grace_s)
                for a in actors:
                    a.terminate.remote(grace)
        self._relay(actors)
        if self.stop_requested:
            return FENCED_EXIT_CODE if self.fenced else 143
        if timed_out:
            return TIME_LIMIT_EXIT_CODE
        return codes[first_failure] if first_failure is not None else 0

    def _relay(self, actors: list[Any]) -> None:
        for rank, lines in enumerate(ray.get([a.drain.remote() for a in actors])):
            for line in lines:
                sys.stdout.write(f"{rank}: {line}")
        sys.stdout.flush()


def watch_lease(gang: Gang, folder: Path) -> None:
    """Engine-side fencing: stop the gang once the agent's lease has run out with the agent
    gone, unless a stop (Ray's `stop_job`, from the agent) is under way; the ranks get what
    is left of the grace until the lease's kill. Ray kills what outlives the driver."""
    while True:
        lease = read_lease(folder)
        now = time.time()
        action = fence_action(lease, agent_silent_s(folder, now), now, gang.stop_requested)
        if action is FenceAction.STOP and lease is not None:
            print(
                f"{FENCED_LINE}the agent is gone and its lease ran out "
                f"{now - lease.ends_at:.1f} s ago: stopping the gang",
                flush=True,
            )
            gang.fenced = True
            gang.stop_grace_s = max(0.0, lease.kill_at - now)
            gang.stop_requested = True
            return
        time.sleep(next_look_s(lease, time.time()))


def main() -> None:
    plan = json.loads(os.environ[PLAN_VARIABLE])
    gang = Gang(plan)

    def on_term(signum: int, frame: object) -> None:
        gang.stop_requested = True

    ray.init(log_to_driver=False)
    signal.signal(signal.SIGTERM, on_term)  # after ray.init, which installs its own
    if plan.get("lease_dir"):
        watch = threading.Thread(
            target=watch_lease, args=(gang, Path(plan["lease_dir"])), daemon=True
        )
        watch.start()
    started = time.time()
    code = gang.run()
    print(f"silkroute: gang ended with {code} after {time.time() - started:.1f} s", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
