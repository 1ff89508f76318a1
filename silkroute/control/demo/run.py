"""`silkroute demo` (what `make run` starts): the platform on the embedded default.

A fresh SQLite database under the data directory, the five demo sites, five tenants from
five countries, and a few jobs that really run short commands on this machine. It prints the
URL, the tokens and commands to try, then serves until Ctrl-C; with `--exit-when-done` (the
default when CI=true) it waits for the demo jobs, prints their usage and stops.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from silkroute.client import ApiError, Client
from silkroute.console import check_port, fail

TENANTS: list[dict[str, Any]] = [
    {"name": "gxu-ai", "country": "CN", "voucher_accelerator_hours": 20.0},
    {"name": "nus-nlp", "country": "SG", "monthly_budget": 500.0},
    {"name": "chula-med", "country": "TH"},
    {"name": "ui-nlp", "country": "ID", "voucher_accelerator_hours": 5.0},
    {"name": "hust-vn", "country": "VN", "monthly_budget": 100.0},
]


def _steps(n: int, what: str) -> str:
    return (
        f'echo "{what}: rank $SILKROUTE_RANK/$SILKROUTE_WORLD_SIZE at $SILKROUTE_SITE on '
        f'$SILKROUTE_ACCELERATOR_TYPE devices [$SILKROUTE_ACCELERATORS]"; '
        f'for step in $(seq 1 {n}); do echo "step $step/{n}"; sleep 1; done; echo done'
    )


JOBS: list[tuple[str, dict[str, Any]]] = [
    (
        "gxu-ai",
        {
            "name": "thai-bert-pretrain",
            "workers": 2,
            "accelerators_per_worker": 8,
            "accelerator_types": ["Ascend910B"],
            "command": _steps(6, "pretraining"),
        },
    ),
    (
        "nus-nlp",
        {
            "name": "sea-lion-eval",
            "accelerators_per_worker": 4,
            "accelerator_types": ["H100"],
            "command": _steps(5, "evaluating"),
        },
    ),
    (
        "gxu-ai",
        {
            "name": "big-h100-run",
            "accelerators_per_worker": 8,
            "accelerator_types": ["H100"],
            "command": _steps(3, "waited for 8 H100"),
        },
    ),
    (
        "chula-med",
        {
            "name": "radiology-preprocess",
            "accelerators_per_worker": 0,
            "cpu_per_worker": 4,
            "command": _steps(3, "preprocessing on CPU"),
        },
    ),
    (
        "ui-nlp",
        {
            "name": "indo-llm-finetune",
            "accelerators_per_worker": 4,
            "accelerator_types": ["L40S"],
            "priority": "low",
            "preemptible": True,
            "command": _steps(4, "fine-tuning"),
        },
    ),
    (
        "hust-vn",
        {
            "name": "vi-asr-train",
            "accelerators_per_worker": 2,
            "accelerator_types": {"A800": 1.0, "A100": 1.1},
            "command": _steps(4, "training"),
        },
    ),
    (
        "nus-nlp",
        {
            "name": "broken-config",
            "accelerators_per_worker": 1,
            "command": "echo 'config.yaml: no such file' >&2; exit 1",
        },
    ),
]


def demo(
    data_dir: Annotated[
        Path, typer.Option(help="Demo data: a new or empty folder, or an earlier demo's (deleted)")
    ] = Path("out/demo"),
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    exit_when_done: Annotated[
        bool | None,
        typer.Option(help="Stop once the demo jobs end (default: when CI=true)"),
    ] = None,
) -> None:
    """Start the platform with demo sites, tenants and jobs that really run."""
    import uvicorn

    from silkroute.api.app import create_app
    from silkroute.control.boot import init_admin, open_platform

    console = Console(width=None if sys.stdout.isatty() else 200)
    if exit_when_done is None:
        exit_when_done = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    check_port(port)
    if not _port_free(host, port):
        raise fail(f"--port: port {port} is in use; try another")
    if not _demo_or_empty(data_dir):
        raise fail(
            f"--data-dir: {data_dir} holds files that are not a demo's, and the demo deletes "
            "its folder first; give a new or empty folder"
        )
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    (data_dir / DEMO_MARK).write_text("made by `silkroute demo`; deleted by the next one\n")
    platform = open_platform(data_dir, tick_s=0.5, grace_s=5.0)
    admin = init_admin(platform)
    assert admin is not None
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform), host=host, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="silkroute-http", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise typer.Exit(2)
        time.sleep(0.05)
    url = f"http://{host}:{port}"
    try:
        tokens, job_ids = _populate(url, admin)
    except ApiError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        server.should_exit = True
        raise typer.Exit(2) from None
    (data_dir / "tokens.env").write_text(
        "".join(f"{name.upper().replace('-', '_')}_TOKEN={tok}\n" for name, tok in tokens.items())
    )
    os.chmod(data_dir / "tokens.env", 0o600)
    _explain(console, url, tokens, job_ids, data_dir)
    try:
        if exit_when_done:
            _wait_and_report(console, url, tokens["admin"], job_ids)
        else:
            console.print("\nServing; press Ctrl-C to stop.")
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        console.print("\nstopping")
    finally:
        server.should_exit = True
        thread.join(30)


def _populate(url: str, admin: str) -> tuple[dict[str, str], list[int]]:
    client = Client(url, admin)
    sites = yaml.safe_load(
        resources.files("silkroute.control.demo").joinpath("sites.yaml").read_text("utf-8")
    )["sites"]
    for site in sites:
        client.add_site(site)
    tokens = {"admin": admin}
    for spec in TENANTS:
        tokens[spec["name"]] = client.create_tenant(spec)["token"]
    client.close()
    job_ids = []
    for owner, job in JOBS:
        as_tenant = Client(url, tokens[owner])
        job_ids.append(as_tenant.submit(job, idempotency_key=f"demo-{job['name']}")["id"])
        as_tenant.close()
    return tokens, job_ids


def _explain(
    console: Console, url: str, tokens: dict[str, str], job_ids: list[int], data_dir: Path
) -> None:
    console.print(f"\n[bold]silkroute control plane[/bold] at {url}  (OpenAPI: {url}/docs)")
    console.print(f"data: {data_dir} (SQLite); tokens also in {data_dir}/tokens.env\n")
    table = Table("who", "token")
    for name, token in tokens.items():
        table.add_row(name, token)
    console.print(table)
    first = job_ids[1]
    cli = "silkroute" if shutil.which("silkroute") else ".venv/bin/silkroute"
    console.print(
        "\nTry, in another terminal:\n"
        f"  export SILKROUTE_URL={url}\n"
        f"  export SILKROUTE_TOKEN={tokens['nus-nlp']}   # tenant nus-nlp\n"
        f"  {cli} jobs\n"
        f"  {cli} job {first}\n"
        f"  {cli} logs {first} -f\n"
        f"  {cli} submit examples/platform/hello.yaml\n"
        f"  {cli} usage\n"
        f"  {cli} cancel JOB_ID\n"
        f"  curl -s -H 'Authorization: Bearer {tokens['admin']}' {url}/metrics"
        " | grep silkroute_   # admin or operator\n",
        soft_wrap=True,
        highlight=False,
    )


def _wait_and_report(console: Console, url: str, admin: str, job_ids: list[int]) -> None:
    client = Client(url, admin)
    deadline = time.monotonic() + 180
    ends = {"succeeded", "failed", "cancelled"}
    while time.monotonic() < deadline:
        states = {j: client.job(j)["state"] for j in job_ids}
        if set(states.values()) <= ends:
            break
        time.sleep(0.5)
    table = Table("id", "tenant", "name", "state", "site", "type", title="demo jobs")
    for j in job_ids:
        d = client.job(j)
        table.add_row(
            str(j),
            d["tenant"],
            d["name"],
            d["state"],
            d["site"] or "-",
            d["accelerator_type"] or "CPU",
        )
    console.print(table)
    usage = client.usage()
    costs = Table("tenant", "accel-hours", "voucher h", "paid h", "cost (USD)", title="usage")
    for t in usage["tenants"]:
        costs.add_row(
            t["tenant"],
            f"{t['accelerator_hours']:.4f}",
            f"{t['voucher_hours']:.4f}",
            f"{t['paid_hours']:.4f}",
            f"{t['cost']:.4f}",
        )
    console.print(costs)
    client.close()


DEMO_MARK = ".silkroute-demo"


def _demo_or_empty(folder: Path) -> bool:
    """Whether the demo may delete `folder`: absent, empty, or made by a demo (its mark, or
    the tokens file and database of a demo from before the mark)."""
    if not folder.exists():
        return True
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return not names or DEMO_MARK in names or {"tokens.env", "silkroute.db"} <= names


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
