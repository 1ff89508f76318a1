"""`silkroute agents` and `silkroute site show SITE`: the remote agents, what their engines
report, and how that differs from the declared sites (drained and capped nodes)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from silkroute.platform_cli import (
    DEFAULT_URL,
    AsJson,
    Token,
    Url,
    call,
    fail,
    held_at,
    out,
    print_json,
    when,
)

SiteName = Annotated[str, typer.Argument(help="The site")]


def agents(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """Remote agents: state, heartbeat, the engine's nodes and how they differ from the site
    as declared (the engine drains or caps nodes; it never adds any)."""
    rows = call(url, token, "request", "GET", "/v1/agents")
    if as_json:
        print_json(rows)
        return
    table = Table("site", "state", "engine", "last heartbeat", "engine nodes up", "differences")
    for a in rows:
        nodes = (a.get("inventory") or {}).get("nodes")
        up = "-" if nodes is None else f"{sum(n['state'] == 'up' for n in nodes)}/{len(nodes)}"
        differences = (a.get("engine") or {}).get("differences") or []
        table.add_row(
            a["site"], a["state"], a["backend"] or "-", when(a["last_heartbeat"]), up,
            "\n".join(differences) or "none",
        )  # fmt: skip
    out.print(table)


def site_show(
    site: SiteName, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False
) -> None:
    """One site: the datasets with a copy there (as `site list`), its nodes as declared, the
    engine node paired with each, and whether it takes work (drained by an operator or by its
    engine, capped accelerators)."""
    sites = {s["name"]: s for s in call(url, token, "sites")}
    if site not in sites:
        raise fail(f"site: no site {site!r}")
    nodes = call(url, token, "nodes", site)
    agent = next(
        (a for a in call(url, token, "request", "GET", "/v1/agents") if a["site"] == site), None
    )
    if as_json:
        print_json({"site": sites[site], "nodes": nodes, "agent": agent})
        return
    spec = sites[site]["spec"]
    served = "the embedded agent (declared capacity)" if agent is None else (
        f"a remote {agent['backend'] or '?'} agent, {agent['state']}"
    )  # fmt: skip
    out.print(f"site {site} ({spec['country']}, {spec.get('operator', '')}): served by {served}")
    out.print(f"datasets: {held_at(sites[site])}")
    table = Table("node", "declared", "engine node", "state", "engine says")
    for n in nodes:
        kind = f"{n['accelerators']} x {n['accelerator']}" if n["accelerator"] else "CPU"
        table.add_row(
            n["node"], kind, n.get("engine_node") or "-", n["state"], n.get("engine") or "-"
        )
    out.print(table)
    for line in _differences(agent):
        out.print(f"  {line}")


def _differences(agent: dict[str, Any] | None) -> list[str]:
    if agent is None or not agent.get("engine"):
        return []
    found: list[str] = agent["engine"]["differences"]
    return found or ["the engine reports the site as declared"]


def register(app: typer.Typer, site_app: typer.Typer) -> None:
    app.command("agents")(agents)
    site_app.command("show")(site_show)
