"""`silkroute agent` (a site's agent process) and `silkroute agent-token SITE` (issue its token).

    silkroute agent --site NAME --backend local|slurm|ray --server URL --token T

The agent runs until SIGTERM or Ctrl-C. Stopping it leaves the engine's runs alone: a restarted
agent reconciles with what its engine still runs (no duplicate runs, no orphans).
"""

from __future__ import annotations

import logging
import signal
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from silkroute.backends.lease import LEASE_FILE
from silkroute.backends.sandbox import SandboxMode
from silkroute.console import check_number, fail


class Engine(StrEnum):
    LOCAL = "local"
    SLURM = "slurm"
    RAY = "ray"


def agent(
    site: Annotated[str, typer.Option(help="The site this agent serves")],
    backend: Annotated[Engine, typer.Option(help="The site's engine")],
    server: Annotated[
        str, typer.Option(envvar="SILKROUTE_URL", help="The control plane's URL")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SILKROUTE_AGENT_TOKEN",
            help="The site's agent token (silkroute agent-token SITE)",
            show_default=False,
        ),
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Runs and engine state (default .silkroute-agent/SITE)")
    ] = None,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(help="Checkpoints, one folder per job (shared with other sites to resume)"),
    ] = None,
    accelerators: Annotated[
        str | None,
        typer.Option(
            help="Accelerators per node of this host, TYPE:COUNT or COUNT (--backend local; "
            "Slurm and Ray report their own)",
            show_default=False,
        ),
    ] = None,
    local_nodes: Annotated[
        int, typer.Option(help="Nodes this host stands for (--backend local; demos, tests)")
    ] = 1,
    interval: Annotated[float, typer.Option(help="Seconds between rounds")] = 0.5,
    namespace: Annotated[
        str,
        typer.Option(help="Tells this control plane's runs apart on a shared Slurm or Ray"),
    ] = "silkroute",
    ray_address: Annotated[
        str, typer.Option(help="Ray's dashboard address (--backend ray)")
    ] = "http://127.0.0.1:8265",
    ray_python: Annotated[
        str, typer.Option(help="Python with Ray on the cluster (--backend ray)")
    ] = "python",
    ray_grace: Annotated[
        float,
        typer.Option(
            help="Ray's stop grace, fixed per job (keep it at most the server's --grace "
            "plus half its --agent-lease)"
        ),
    ] = 10.0,
    slurm_partition: Annotated[
        str | None, typer.Option(help="Slurm partition (--backend slurm)")
    ] = None,
    engine_fence: Annotated[
        bool,
        typer.Option(
            help="--backend slurm or ray: the work dir is on a file system the engine's nodes "
            "share (Slurm's compute nodes, the node of Ray's job drivers), so each job stops "
            "its ranks itself once this agent is gone past its lease (the local engine "
            "always does; see docs/agents.md)"
        ),
    ] = False,
    sandbox: Annotated[
        SandboxMode,
        typer.Option(
            help="--backend local: run jobs in a bubblewrap sandbox (read-only system, other "
            "runs and checkpoints hidden, only the run's own folders writable): bwrap (or "
            "refuse to start), auto (where bwrap works), off"
        ),
    ] = SandboxMode.OFF,
) -> None:
    """Run a site's agent: pull its runs from the control plane, run them on the engine,
    report states and exit codes, ship logs, heartbeat. Out of reach of the control plane
    for longer than its lease (the server's --agent-lease, learned from each heartbeat), the
    agent stops every run its engine holds: the control plane then starts them elsewhere."""
    from silkroute.agent.http import HttpControlPlane
    from silkroute.agent.site_agent import SiteAgent, serve
    from silkroute.backends.base import BackendError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    if not token:
        raise fail("--token: the site's agent token is required (or SILKROUTE_AGENT_TOKEN)")
    check_number("--interval", interval, least=0, strict=True)
    check_number("--ray-grace", ray_grace, least=0)
    root = (work_dir or Path(".silkroute-agent") / site).resolve()
    root.mkdir(parents=True, exist_ok=True)
    lease_dir = _lease_dir(root)
    job_sandbox = None
    if backend is Engine.LOCAL:
        from silkroute.backends.sandbox import make_sandbox

        try:
            private = [root, *([checkpoint_dir] if checkpoint_dir else [])]
            job_sandbox = make_sandbox(sandbox, private)
        except BackendError as exc:
            raise fail(f"--sandbox {sandbox.value}: {exc}") from None
    try:
        kind, count = _accelerators(accelerators)
        if backend is Engine.LOCAL:
            from silkroute.backends.local import LocalBackend

            engine: Any = LocalBackend(
                root / "engine",
                accelerator=kind,
                accelerators=count,
                nodes=local_nodes,
                sandbox=job_sandbox,
                agent_lease=lease_dir,
            )
        else:
            engine = _backend(
                backend,
                root,
                namespace,
                ray_address,
                ray_python,
                ray_grace,
                slurm_partition,
                lease_dir if engine_fence else None,
            )
    except BackendError as exc:
        raise fail(f"--backend {backend.value}: {exc}") from None
    control = HttpControlPlane(server, token)
    site_agent = SiteAgent(
        site=site,
        backend=engine,
        control=control,
        work_dir=root / "runs",
        checkpoint_root=(checkpoint_dir or root / "checkpoints"),
        lease_file=lease_dir / LEASE_FILE,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()
        site_agent.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.getLogger("silkroute.agent").info(
        "agent of site %s on %s, control plane %s", site, backend.value, server
    )
    try:
        serve(site_agent, stop, interval)
    finally:
        site_agent.close()
        control.close()


def _lease_dir(root: Path) -> Path:
    """`<work-dir>/lease/`: the kept lease and the `alive` stamp, a folder of their own so a
    sandboxed rank's runner can be shown it and nothing else of the work dir."""
    folder = root / "lease"
    folder.mkdir(exist_ok=True)
    old = root / LEASE_FILE  # where agents before the folder kept it
    if old.exists() and not (folder / LEASE_FILE).exists():
        old.replace(folder / LEASE_FILE)
    return folder


def _backend(
    engine: Engine,
    root: Path,
    namespace: str,
    ray_address: str,
    ray_python: str,
    ray_grace: float,
    slurm_partition: str | None,
    agent_lease: Path | None,
) -> Any:
    if engine is Engine.SLURM:
        from silkroute.backends.slurm import SlurmBackend

        return SlurmBackend(namespace=namespace, partition=slurm_partition, agent_lease=agent_lease)
    from silkroute.backends.ray import RayBackend

    return RayBackend(
        ray_address,
        namespace=namespace,
        python=ray_python,
        max_grace_s=ray_grace,
        agent_lease=agent_lease,
    )


def _accelerators(text: str | None) -> tuple[str | None, int]:
    """`--accelerators`: `TYPE:COUNT` or `COUNT` (of a type the host does not name)."""
    if not text:
        return None, 0
    kind, _, count = text.rpartition(":")
    try:
        number = int(count)
    except ValueError:
        raise fail(f"--accelerators: {text!r} is not TYPE:COUNT or COUNT") from None
    if number < 0 or number > 1024:
        raise fail(f"--accelerators: {number} is not between 0 and 1024")
    return (kind or None), number


def agent_token(
    site: Annotated[str, typer.Argument(help="The site")],
    url: Annotated[str, typer.Option("--url", envvar="SILKROUTE_URL")] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option("--token", envvar="SILKROUTE_TOKEN", show_default=False)
    ] = None,
) -> None:
    """Issue the token of a site's agent (admin or operator); the site then waits for that
    agent's first heartbeat before it takes new work."""
    from silkroute.client import ApiError, Client

    client = Client(url, token)
    try:
        answer = client.request("POST", f"/v1/sites/{site}/agent-token")
    except ApiError as exc:
        raise fail(str(exc)) from None
    finally:
        client.close()
    print(answer["token"])


def register(app: typer.Typer) -> None:
    from silkroute.agent import inventory_cli
    from silkroute.platform_cli import site_app

    app.command("agent")(agent)
    app.command("agent-token")(agent_token)
    inventory_cli.register(app, site_app)  # `silkroute agents`, `silkroute site show`
