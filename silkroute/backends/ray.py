"""The Ray back end: one run is one Ray job (job submission API), its submission id the run_id.

- submit: `JobSubmissionClient.submit_job(submission_id=<namespace>.<run_id>)` (submission ids
  are one namespace per Ray cluster: control planes sharing a cluster must not collide, as
  Slurm's job names `<namespace>.<run_id>`); the entrypoint is the gang
  driver `ray_gang.launcher` (its plan in the job's environment), shipped with the job as a
  `py_modules` package, which places the gang as one placement group (one bundle of CPUs and
  GPUs per rank) and runs rank i in actor i. A run_id Ray already has is not submitted again.
- poll / list_runs: `get_job_info` / `list_jobs`, our jobs told apart by their metadata.
- cancel: `stop_job`; Ray sends SIGTERM to the driver, which forwards it to every rank and
  kills them after the grace period. Ray itself SIGKILLs the driver after the job's
  `RAY_JOB_STOP_WAIT_TIME_S`, which submit sets to `max_grace_s` (Ray fixes the wait per job
  at submit, so a `cancel(grace_s)` longer than `max_grace_s` gets `max_grace_s`).
- fencing (`agent_lease`, the agent's lease folder on a file system the driver's node
  shares): the driver stops its gang itself once the agent is gone past its lease
  (`ray_gang.launcher`), and the run is reported cancelled and fenced.
- usage: the job's start and end times as Ray recorded them x the gang's GPUs (from the
  job's metadata).
"""

from __future__ import annotations

import json
import math
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from silkroute.backends import ray_gang
from silkroute.backends.base import (
    ENV_ACCELERATORS,
    BackendError,
    LaunchSpec,
    RunState,
    RunStatus,
    worker_env,
)
from silkroute.backends.capabilities import RunUsage, check_run_id, shell_line
from silkroute.backends.ray_gang import FENCED_EXIT_CODE, FENCED_LINE, PLAN_VARIABLE
from silkroute.model.inventory import SiteInventory

_STATES = {
    "PENDING": RunState.QUEUED,
    "RUNNING": RunState.RUNNING,
    "SUCCEEDED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "STOPPED": RunState.CANCELLED,
}
_META_NAMESPACE = "silkroute_namespace"
_META_RUN = "silkroute_run_id"
_META_GPUS = "silkroute_gpus"


class RayBackend:
    name = "ray"
    capabilities = frozenset({"logs", "usage"})

    def __init__(
        self,
        address: str,
        *,
        namespace: str = "silkroute",
        max_grace_s: float = 10.0,
        placement_strategy: str = "PACK",
        python: str = "python",
        auth_token: str | None = None,
        pin_nodes: bool = False,
        node_label: str = "silkroute.io/node",
        poll_interval_s: float = 0.25,
        agent_lease: Path | None = None,
    ) -> None:
        """`address`: the dashboard's HTTP address (`http://head:8265`); `python`: the
        interpreter with Ray on the cluster's nodes, which runs the gang driver;
        `auth_token`: the cluster's token where Ray's token authentication is on (a cluster
        started by a local `ray.init` has it on by default); `pin_nodes`: bundle i goes to
        the Ray node whose label `node_label` is workers[i].node (label each node with its
        site node name: `ray start --labels=silkroute.io/node=<name>`)."""
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError as exc:
            raise BackendError("ray: not installed (pip install 'silkroute[engines]')") from exc
        try:
            headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else None
            self._client = JobSubmissionClient(address, headers=headers)
            self._address, self._headers = address, headers
        except Exception as exc:  # Ray raises ConnectionError, ValueError or RuntimeError
            raise BackendError(f"ray: cannot reach the job API at {address}: {exc}") from exc
        self.namespace = namespace
        self.max_grace_s = max_grace_s
        self.placement_strategy = placement_strategy
        self.python = python
        self.pin_nodes = pin_nodes
        self.node_label = node_label
        self._poll_interval_s = poll_interval_s
        self.agent_lease = agent_lease

    # --- the Backend protocol -------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> RunStatus:
        check_run_id(spec.run_id)
        if not spec.workers:
            raise BackendError("workers: a run needs at least one worker")
        known = self._info(spec.run_id)
        if known is not None:
            return _status(spec.run_id, known)
        gpus = math.ceil(spec.accelerators_per_worker) if spec.accelerators_per_worker >= 1 else 0
        bundle_gpus = spec.accelerators_per_worker if gpus == 0 else gpus
        plan = {
            "command": shell_line(spec.command),
            "workdir": str(spec.workdir),
            "accelerators_var": ENV_ACCELERATORS,
            "ranks": [{"env": worker_env(spec, r)} for r in range(spec.world_size)],
            "bundle": {
                "CPU": spec.cpu_per_worker,
                "GPU": bundle_gpus,
                "memory": spec.memory_gib_per_worker * 2**30,
            },
            "time_limit_s": spec.time_limit_s,
            "strategy": self.placement_strategy,
            "node_label": self.node_label,
            "node_selectors": (
                [{self.node_label: w.node} for w in spec.workers] if self.pin_nodes else None
            ),
            "grace_s": max(0.0, self.max_grace_s - 2.0),  # the driver must finish first
            "lease_dir": None if self.agent_lease is None else str(self.agent_lease),
        }
        spec.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._client.submit_job(
                entrypoint=f"{shlex.quote(self.python)} -m ray_gang.launcher",
                submission_id=self._submission(spec.run_id),
                runtime_env={
                    "py_modules": [str(Path(ray_gang.__file__).parent)],
                    "env_vars": {
                        "RAY_JOB_STOP_WAIT_TIME_S": str(math.ceil(self.max_grace_s)),
                        PLAN_VARIABLE: json.dumps(plan),
                    },
                },
                metadata={
                    _META_NAMESPACE: self.namespace,
                    _META_RUN: spec.run_id,
                    _META_GPUS: str(bundle_gpus * spec.world_size),
                    "silkroute_job_id": spec.job_id,
                    "silkroute_attempt": str(spec.attempt),
                },
            )
        except Exception as exc:
            raced = self._info(spec.run_id)  # a concurrent submit of the same run won
            if raced is not None:
                return _status(spec.run_id, raced)
            raise BackendError(f"ray: submit of {spec.run_id} failed: {exc}") from exc
        info = self._info(spec.run_id)
        return _status(spec.run_id, info) if info else RunStatus(spec.run_id, RunState.QUEUED)

    def poll(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        result = {}
        for run_id in run_ids:
            info = self._info(run_id)
            result[run_id] = (
                _status(run_id, info)
                if info is not None
                else RunStatus(run_id, RunState.LOST, message="ray has no job for this run")
            )
        return result

    def cancel(self, run_id: str, grace_s: float = 30.0) -> None:
        info = self._info(run_id)
        if info is None or _STATES.get(str(info.status), RunState.RUNNING).terminal:
            return
        self._call("stop_job", self._submission(run_id))
        # Ray kills the driver after max_grace_s; give it a little longer to say so.
        deadline = time.monotonic() + min(grace_s, self.max_grace_s) + 10.0
        while time.monotonic() < deadline:
            info = self._info(run_id)
            if info is None or _STATES.get(str(info.status), RunState.RUNNING).terminal:
                return
            time.sleep(self._poll_interval_s)

    def list_runs(self) -> list[RunStatus]:
        jobs = self._call("list_jobs")
        ours = [
            j
            for j in jobs
            if (j.metadata or {}).get(_META_NAMESPACE) == self.namespace
            and (j.metadata or {}).get(_META_RUN)
        ]
        return sorted((_status(j.metadata[_META_RUN], j) for j in ours), key=lambda s: s.run_id)

    def inventory(self) -> SiteInventory:
        """Every node Ray knows, dead ones too, from its state API (see `ray_nodes`)."""
        from ray.util.state import StateApiClient
        from ray.util.state.common import ListApiOptions, StateResource

        from silkroute.backends.ray_nodes import parse_nodes

        try:
            client = StateApiClient(address=self._address, headers=self._headers)
            rows = client.list(
                StateResource.NODES,
                options=ListApiOptions(limit=10_000, detail=True, timeout=10),
                raise_on_missing_output=False,
            )
        except Exception as exc:  # Ray raises its own exception types for each failure
            raise BackendError(f"ray: cannot list the nodes at {self._address}: {exc}") from exc
        return SiteInventory(engine=self.name, nodes=parse_nodes(rows, self.node_label))

    # --- optional capabilities ------------------------------------------------------------

    def logs(self, run_id: str) -> str:
        if self._info(run_id) is None:
            return ""
        return str(self._call("get_job_logs", self._submission(run_id)))

    def usage(self, run_ids: Sequence[str]) -> dict[str, RunUsage]:
        usage = {}
        for run_id in run_ids:
            info = self._info(run_id)
            if info is None:
                continue
            gpus = float((info.metadata or {}).get(_META_GPUS, "0"))
            usage[run_id] = RunUsage(run_id, gpus, _seconds(info.start_time), _end(info))
        return usage

    # --- talking to Ray -------------------------------------------------------------------

    def _submission(self, run_id: str) -> str:
        return f"{self.namespace}.{run_id}"

    def _info(self, run_id: str) -> Any | None:
        try:
            info = self._client.get_job_info(self._submission(run_id))
        except RuntimeError as exc:  # the SDK's answer for an unknown submission id
            if "status code 404" in str(exc):
                return None
            raise BackendError(f"ray: get_job_info({run_id}) failed: {exc}") from exc
        except Exception as exc:
            raise BackendError(f"ray: get_job_info({run_id}) failed: {exc}") from exc
        metadata = info.metadata or {}
        if metadata.get(_META_NAMESPACE) != self.namespace or metadata.get(_META_RUN) != run_id:
            return None  # someone else's job with this id: not ours to report or stop
        return info

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._client, method)(*args)
        except Exception as exc:
            raise BackendError(f"ray: {method} failed: {exc}") from exc


def _seconds(ms: int | None) -> float | None:
    return ms / 1000.0 if ms else None


def _end(info: Any) -> float | None:
    terminal = _STATES.get(str(info.status), RunState.RUNNING).terminal
    return _seconds(info.end_time) if terminal else None


def _first_line(text: str) -> str:
    """Ray appends the driver's last 20,000 characters of log to a failure message."""
    return text.split("\n", 1)[0].split(", last available logs", 1)[0]


def _status(run_id: str, info: Any) -> RunStatus:
    status = str(info.status)
    state = _STATES.get(status, RunState.RUNNING)
    code = getattr(info, "driver_exit_code", None)
    if state is RunState.FAILED and code == FENCED_EXIT_CODE:
        lines = str(info.message or "").splitlines()
        fence = next((line for line in lines if line.startswith(FENCED_LINE)), None)
        if fence is not None:
            return RunStatus(
                run_id,
                RunState.CANCELLED,
                message=f"ray job stopped by its driver: {fence.removeprefix(FENCED_LINE)}",
                started_at=_seconds(info.start_time),
                ended_at=_end(info),
                fenced=True,
            )
    return RunStatus(
        run_id,
        state,
        exit_code=code if state in (RunState.SUCCEEDED, RunState.FAILED) else None,
        message=f"ray job {status}" + (f": {_first_line(info.message)}" if info.message else ""),
        started_at=_seconds(info.start_time) if state is not RunState.QUEUED else None,
        ended_at=_end(info),
    )
