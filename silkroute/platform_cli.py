"""`silkroute server | admin | site | tenant | submit | jobs | job | cancel | logs | usage | demo`.

Everything but `server`, `admin init` and `demo` talks to a running server over HTTP; the URL
and token come from `--url` / `--token` or SILKROUTE_URL / SILKROUTE_TOKEN.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from silkroute.backends.sandbox import SandboxMode
from silkroute.client import DEFAULT_URL, ApiError, Client
from silkroute.console import check_number, check_port
from silkroute.model.errors import SpecError, field_path, read_yaml

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

Url = Annotated[
    str, typer.Option("--url", envvar="SILKROUTE_URL", help="Server URL", show_default=True)
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="SILKROUTE_TOKEN", help="API token", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
DataDir = Annotated[Path, typer.Option("--data-dir", help="Database, run folders, back-end state")]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: SQLite under --data-dir), e.g. "
        "postgresql+psycopg://user@host/db",
    ),
]

admin_app = typer.Typer(help="Set up a control plane.", no_args_is_help=True)
site_app = typer.Typer(help="Computing centres (sites).", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants and their tokens.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: list, issue, revoke.", no_args_is_help=True)
node_app = typer.Typer(
    help="Nodes of the sites: list, add, drain, undrain, remove, restore (operators).",
    no_args_is_help=True,
)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def call(url: str, token: str | None, method: str, *args: Any, **kwargs: Any) -> Any:
    client = Client(url, token)
    try:
        return getattr(client, method)(*args, **kwargs)
    except ApiError as exc:
        raise fail(str(exc)) from None
    finally:
        client.close()


def file_items(file: Path, raw: Any, key: str, what: str) -> list[dict[str, Any]]:
    """The mappings a file holds: one, or a list of them under `key`; anything else is refused
    here, naming the file and the item (the server would only say `(body)`)."""
    if isinstance(raw, dict) and key in raw:
        items = raw[key]
        if not isinstance(items, list):
            raise fail(f"{file}: {key}: a list of {key}")
        places = [f"{field_path((key, i))}: " for i in range(len(items))]
    else:
        items, places = [raw], [""]
    for item, place in zip(items, places, strict=True):
        if not isinstance(item, dict):
            raise fail(f"{file}: {place}a {what} is a mapping of fields")
    return items


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# ----- server side ------------------------------------------------------------------------
def server(
    db: DbUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    data_dir: DataDir = Path(".silkroute"),
    tick: Annotated[float, typer.Option(help="Seconds between scheduling passes")] = 1.0,
    audit_key: Annotated[
        Path | None, typer.Option(help="Audit signing key (default: DATA_DIR/audit.key)")
    ] = None,
    operator_policies: Annotated[
        Path | None, typer.Option(help="Operator restrictions (Cedar file)")
    ] = None,
    grace: Annotated[float, typer.Option(help="Seconds from SIGTERM to SIGKILL on a stop")] = 10.0,
    agent_timeout: Annotated[
        float, typer.Option(help="A site whose agent is silent this long goes down")
    ] = 15.0,
    agent_lease: Annotated[
        float | None,
        typer.Option(
            help="A remote agent out of reach of the server this long stops its runs itself; "
            "a down site's jobs are requeued only once this lease and --grace have passed "
            "since its agent was last heard (default: --agent-timeout)"
        ),
    ] = None,
    sandbox: Annotated[
        SandboxMode,
        typer.Option(
            help="Run the embedded sites' jobs in a bubblewrap sandbox (read-only system, the "
            "data directory hidden, only the run's own folders writable): bwrap (or refuse to "
            "start), auto (where bwrap works), off"
        ),
    ] = SandboxMode.OFF,
    public_metrics: Annotated[
        bool,
        typer.Option(
            help="Serve /metrics without a token (its labels name every tenant; by default it "
            "needs an admin or operator token). Only where the port is guarded elsewhere"
        ),
    ] = False,
    budget_stops_running: Annotated[
        bool,
        typer.Option(
            help="When a tenant's monthly budget is spent, stop its running jobs too (SIGTERM, "
            "--grace, as a preemption: they wait, pending, with its other jobs). By default "
            "they run to their end and only its waiting jobs are held"
        ),
    ] = False,
) -> None:
    """Run the control plane: the HTTP API and the live scheduling loop (Ctrl-C stops it)."""
    import uvicorn

    check_port(port)
    check_number("--tick", tick, least=0, strict=True)
    check_number("--grace", grace, least=0)
    check_number("--agent-timeout", agent_timeout, least=0, strict=True)
    check_number("--agent-lease", agent_lease, least=0, strict=True)

    from silkroute.api.app import create_app
    from silkroute.backends.base import BackendError
    from silkroute.control.boot import open_platform

    if operator_policies is not None:
        from silkroute.policy.operator import OperatorPolicies

        try:
            OperatorPolicies(operator_policies.read_text("utf-8"), {})
        except (OSError, ValueError) as exc:
            raise fail(f"--operator-policies: {operator_policies}: {exc}") from None
    try:
        platform = open_platform(
            data_dir,
            db,
            tick_s=tick,
            grace_s=grace,
            audit_key=audit_key,
            operator_policies=operator_policies,
            agent_timeout_s=agent_timeout,
            agent_lease_s=agent_lease,
            sandbox=sandbox,
            budget_stops_running=budget_stops_running,
        )
    except BackendError as exc:  # a sandbox that cannot be made (--sandbox bwrap)
        raise fail(f"--sandbox {sandbox.value}: {exc}") from None
    except Exception as exc:  # a bad URL or an unreachable database: one line, no traceback
        raise fail(f"cannot open the database: {exc}".splitlines()[0]) from None
    err.print(f"silkroute control plane on http://{host}:{port} (data in {data_dir})")
    app = create_app(platform, public_metrics=public_metrics)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@admin_app.command("init")
def admin_init(
    db: DbUrl = None,
    data_dir: DataDir = Path(".silkroute"),
    force: Annotated[bool, typer.Option(help="Issue another admin token")] = False,
) -> None:
    """Create (or migrate) the database and print an admin token, once."""
    from silkroute.control.boot import init_admin, open_platform

    try:
        platform = open_platform(data_dir, db)
    except Exception as exc:  # a bad URL, an unreachable database, a folder it cannot make
        raise fail(f"cannot open the database: {exc}".splitlines()[0]) from None
    token = init_admin(platform, force=force)
    if token is None:
        raise fail("an admin token exists already; use --force to issue another")
    out.print(f"admin token (shown once, stored only hashed):\n{token}", soft_wrap=True)


# ----- sites and tenants ----------------------------------------------------------------------
@site_app.command("add")
def site_add(file: Path, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Register the site(s) in FILE (one site, or a cluster file with `sites:`)."""
    try:
        raw = read_yaml(file, "site file")
    except SpecError as exc:
        raise fail(str(exc)) from None
    for site in file_items(file, raw, "sites", "site"):
        added = call(url, token, "add_site", site)
        out.print(f"site {added['name']} ({added['country']}) added")


@site_app.command("list")
def site_list(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """The registered sites, their accelerators, and the datasets with a copy there (each
    with the record saying so: the site's declaration and/or the dataset's registration; a
    tenant sees only its own datasets)."""
    sites = call(url, token, "sites")
    if as_json:
        print_json(sites)
        return
    table = Table("site", "country", "accelerators", "price / accelerator-hour", "datasets")
    for site in sites:
        nodes = site["spec"]["nodes"]
        kinds = ", ".join(
            f"{n['count'] * n['accelerators']} x {n['accelerator']}"
            for n in nodes
            if n["accelerator"]
        )
        table.add_row(
            site["name"], site["country"], kinds or "CPU", _pairs(site, "price"), held_at(site)
        )
    out.print(table)


def held_at(site: dict[str, Any]) -> str:
    """A site view's copies in one line: `sg-news (site+dataset), sg-web (dataset)`."""
    held = (f"{c['dataset']} ({'+'.join(c['recorded_by'])})" for c in site["copies"])
    return ", ".join(held) or "-"


def _pairs(site: dict[str, Any], what: str) -> str:
    field = "price_per_accelerator_hour" if what == "price" else "latency_ms"
    shown = "{:.2f}" if what == "price" else "{:g} ms"
    items = site["spec"][field].items()
    return ", ".join(f"{k} {shown.format(v)}" for k, v in items) or "-"


def parse_pairs(option: str, example: str, items: list[str]) -> dict[str, float | None]:
    """`KEY=N` items for a merge patch: `KEY=none` removes the key."""
    pairs: dict[str, float | None] = {}
    for item in items:
        key, sep, amount = item.partition("=")
        if not sep or not key:
            raise fail(f"{option}: KEY=N or KEY=none, e.g. {example} (got {item!r})")
        if _or_none(amount):
            pairs[key] = None
            continue
        try:
            value = float(amount)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):  # JSON cannot carry it; the bounds are the server's
            raise fail(f"{option} {key}: a finite number or none (got {amount!r})")
        pairs[key] = value
    return pairs


@site_app.command("update")
def site_update(
    site: str,
    price: Annotated[
        list[str] | None,
        typer.Option(
            help="TYPE=USD per accelerator-hour, repeated; TYPE=none removes the type's price. "
            "Types not named keep their price",
            show_default=False,
        ),
    ] = None,
    latency: Annotated[
        list[str] | None,
        typer.Option(
            help="CC=MS to a user region (ISO country code), repeated; CC=none removes it. "
            "Regions not named keep theirs",
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            help="A dataset held at the site, repeated: replaces the whole list (none: no "
            "datasets)",
            show_default=False,
        ),
    ] = None,
    operator: Annotated[
        str | None, typer.Option(help="Who runs the site", show_default=False)
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Change a site's prices, latencies, datasets or operator (operators, admins; audited).
    The next scheduling pass uses them; running jobs stay where they are. Name, country and
    nodes do not change here (nodes: `silkroute node ...`)."""
    body: dict[str, Any] = {}
    if operator is not None:
        body["operator"] = operator
    if price:
        body["price_per_accelerator_hour"] = parse_pairs("--price", "H100=2.5", price)
    if latency:
        body["latency_ms"] = parse_pairs("--latency", "SG=20", latency)
    if dataset:
        body["datasets"] = [] if len(dataset) == 1 and _or_none(dataset[0]) else dataset
    if not body:
        raise fail("nothing to change: give at least one option (see --help)")
    updated = call(url, token, "update_site", site, body)
    if as_json:
        print_json(updated)
        return
    spec = updated["spec"]
    table = Table("site", "country", "operator", "price / accelerator-hour", "latency", "datasets")
    table.add_row(
        updated["name"],
        updated["country"],
        spec["operator"],
        _pairs(updated, "price"),
        _pairs(updated, "latency"),
        ", ".join(spec["datasets"]) or "-",
    )
    out.print(table)


MaxPriority = Annotated[
    str | None,
    typer.Option(
        "--max-priority",
        help="Highest priority its jobs may ask for: best-effort, low, normal, high, critical, "
        "an integer, or none (no ceiling)",
        show_default=False,
    ),
]
MaxPending = Annotated[
    str | None,
    typer.Option(
        "--max-pending-jobs",
        help="Most jobs it may have pending at once (an integer, or none: no cap)",
        show_default=False,
    ),
]
MaxRunning = Annotated[
    str | None,
    typer.Option(
        "--max-running-jobs",
        help="Most of its jobs started at once, the rest wait pending (an integer, or none: "
        "no cap; default none)",
        show_default=False,
    ),
]
Budget = Annotated[
    str | None,
    typer.Option(
        "--budget",
        help="Most money per month (USD), or none. Once spent, its new jobs are refused and "
        "its pending ones wait until it is raised or the month ends (running ones finish "
        "unless the server runs with --budget-stops-running)",
        show_default=False,
    ),
]


def _or_none(text: str) -> bool:
    return text.strip().lower() in ("none", "null", "unlimited")


def parse_budget(text: str | None) -> float | None:
    if text is None or _or_none(text):
        return None
    try:
        value = float(text)
    except ValueError:
        raise fail(f"--budget: a number of USD or none (got {text!r})") from None
    check_number("--budget", value, least=0)
    return value


def parse_max_priority(text: str) -> str | int | None:
    """A class name, an integer, or none; the server checks the name and the range."""
    if _or_none(text):
        return None
    try:
        return int(text)
    except ValueError:
        return text.strip()


def parse_job_cap(option: str, text: str) -> int | None:
    """A number of jobs, or none (no cap); the server checks the upper bound."""
    if _or_none(text):
        return None
    try:
        value = int(text)
    except ValueError:
        raise fail(f"{option}: a whole number or none (got {text!r})") from None
    check_number(option, value, least=0)
    return value


def parse_quota(items: list[str]) -> dict[str, float]:
    """`TYPE=N` items (`*=N` for every type); `none` alone: no quota."""
    if len(items) == 1 and _or_none(items[0]):
        return {}
    quota: dict[str, float] = {}
    for item in items:
        kind, sep, amount = item.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = float("nan")
        if not sep or not kind:
            raise fail(f"--quota: TYPE=N, e.g. H100=8 or '*=16' (got {item!r})")
        check_number(f"--quota {kind}", value, least=0)
        quota[kind] = value
    return quota


# Options `tenant create` and `tenant update` share.
QuotaItems = Annotated[
    list[str] | None,
    typer.Option(
        "--quota",
        help="Most accelerators in use at once: TYPE=N, repeated (e.g. --quota H100=8 "
        "--quota '*=16'), or none; `update` replaces the whole quota",
        show_default=False,
    ),
]
PayAsYouGo = Annotated[
    bool | None,
    typer.Option(
        "--pay-as-you-go/--vouchers-only",
        help="Paid work beyond the vouchers (a new tenant's default), or only voucher-covered work",
        show_default=False,
    ),
]


@tenant_app.command("create")
def tenant_create(
    name: str,
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code")],
    voucher_hours: Annotated[float, typer.Option(help="Free accelerator-hours")] = 0.0,
    budget: Budget = None,
    weight: Annotated[float, typer.Option(help="Fair-share weight")] = 1.0,
    ciio: Annotated[
        bool, typer.Option(help="A critical-information-infrastructure operator")
    ] = False,
    quota: QuotaItems = None,
    pay_as_you_go: PayAsYouGo = None,
    max_priority: MaxPriority = None,
    max_pending_jobs: MaxPending = None,
    max_running_jobs: MaxRunning = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Create a tenant and print its token (shown once). Unless given, it has no quota, pays
    for work beyond its vouchers, its jobs may ask for at most `normal` priority and have at
    most 10,000 jobs pending, with no cap on how many run at once."""
    check_number("--voucher-hours", voucher_hours, least=0)
    check_number("--weight", weight, least=0, strict=True)
    body: dict[str, Any] = {
        "name": name,
        "country": country,
        "voucher_accelerator_hours": voucher_hours,
        "monthly_budget": parse_budget(budget),
        "weight": weight,
        "ciio": ciio,
    }
    if quota:
        body["quota"] = parse_quota(quota)
    if pay_as_you_go is not None:
        body["pay_as_you_go"] = pay_as_you_go
    if max_priority is not None:  # absent: the server's default
        body["max_priority"] = parse_max_priority(max_priority)
    if max_pending_jobs is not None:
        body["max_pending_jobs"] = parse_job_cap("--max-pending-jobs", max_pending_jobs)
    if max_running_jobs is not None:
        body["max_running_jobs"] = parse_job_cap("--max-running-jobs", max_running_jobs)
    created = call(url, token, "create_tenant", body)
    out.print(f"tenant {name} created; its token (shown once):\n{created['token']}", soft_wrap=True)


@tenant_app.command("update")
def tenant_update(
    name: str,
    weight: Annotated[
        float | None, typer.Option(help="Fair-share weight", show_default=False)
    ] = None,
    quota: QuotaItems = None,
    voucher_hours: Annotated[
        float | None,
        typer.Option(help="Free accelerator-hours granted, in all", show_default=False),
    ] = None,
    pay_as_you_go: PayAsYouGo = None,
    budget: Budget = None,
    max_priority: MaxPriority = None,
    max_pending_jobs: MaxPending = None,
    max_running_jobs: MaxRunning = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Change a tenant's settings (admins); only the options given change. The scheduler
    uses them from its next pass: a raised budget or running cap starts waiting jobs, a
    lower one stops no running job."""
    check_number("--weight", weight, least=0, strict=True)
    check_number("--voucher-hours", voucher_hours, least=0)
    body: dict[str, Any] = {}
    if weight is not None:
        body["weight"] = weight
    if quota:
        body["quota"] = parse_quota(quota)
    if voucher_hours is not None:
        body["voucher_accelerator_hours"] = voucher_hours
    if pay_as_you_go is not None:
        body["pay_as_you_go"] = pay_as_you_go
    if budget is not None:
        body["monthly_budget"] = parse_budget(budget)
    if max_priority is not None:
        body["max_priority"] = parse_max_priority(max_priority)
    if max_pending_jobs is not None:
        body["max_pending_jobs"] = parse_job_cap("--max-pending-jobs", max_pending_jobs)
    if max_running_jobs is not None:
        body["max_running_jobs"] = parse_job_cap("--max-running-jobs", max_running_jobs)
    if not body:
        raise fail("nothing to change: give at least one option (see --help)")
    updated = call(url, token, "update_tenant", name, body)
    if as_json:
        print_json(updated)
        return
    _tenant_table([updated])


@tenant_app.command("list")
def tenant_list(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """Tenants you may see."""
    tenants = call(url, token, "tenants")
    if as_json:
        print_json(tenants)
        return
    _tenant_table(tenants)


def _tenant_table(tenants: list[dict[str, Any]]) -> None:
    table = Table(
        "tenant",
        "country",
        "weight",
        "quota",
        "voucher h",
        "budget / month",
        "max priority",
        "max pending",
        "max running",
    )

    def shown(value: Any) -> str:
        return "-" if value is None else str(value)

    for t in tenants:
        budget = "-" if t["monthly_budget"] is None else f"{t['monthly_budget']:.2f}"
        quota = ", ".join(f"{k} {v:g}" for k, v in sorted(t["quota"].items())) or "-"
        table.add_row(
            t["name"],
            t["country"],
            f"{t['weight']:g}",
            quota,
            f"{t['voucher_accelerator_hours']:g}",
            budget,
            shown(t.get("max_priority")),
            shown(t.get("max_pending_jobs")),
            shown(t.get("max_running_jobs")),
        )
    out.print(table)


# ----- tokens ---------------------------------------------------------------------------------
@token_app.command("list")
def token_list(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """Tokens you may see (admins: all; a tenant: its own). Never the tokens themselves."""
    rows = call(url, token, "tokens")
    if as_json:
        print_json(rows)
        return
    table = Table("id", "role", "tenant", "label", "created", "revoked")
    for t in rows:
        table.add_row(
            str(t["id"]),
            t["role"],
            t["tenant"] or "-",
            t["label"],
            when(t["created_at"]),
            when(t["revoked_at"]),
        )
    out.print(table)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, operator or tenant")] = "tenant",
    tenant: Annotated[str | None, typer.Option(help="The tenant of a tenant token")] = None,
    label: Annotated[str, typer.Option(help="A note for the token list")] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Issue a token (printed once). To rotate: create a new one, then revoke the old one."""
    body = {"role": role, "tenant": tenant, "label": label}
    created = call(url, token, "create_token", body)
    record = created["record"]
    out.print(
        f"token {record['id']} ({record['role']}) issued; shown once:\n{created['token']}",
        soft_wrap=True,
    )


@token_app.command("revoke")
def token_revoke(token_id: int, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Revoke a token: it is refused (401) from the next request on."""
    done = call(url, token, "revoke_token", token_id)
    out.print(f"token {done['id']} ({done['role']}) revoked")


# ----- nodes ----------------------------------------------------------------------------------
@node_app.command("list")
def node_list(
    site: Annotated[str | None, typer.Option(help="Only this site's nodes")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Every node and whether it takes work (active), drains or was removed."""
    rows = call(url, token, "nodes", site)
    if as_json:
        print_json(rows)
        return
    table = Table("site", "node", "accelerators", "state")
    for n in rows:
        kind = f"{n['accelerators']} x {n['accelerator']}" if n["accelerator"] else "CPU"
        table.add_row(n["site"], n["node"], kind, n["state"])
    out.print(table)


@node_app.command("add")
def node_add(
    site: str,
    file: Annotated[
        Path | None,
        typer.Argument(help="Node groups as in a site file: `nodes: [...]`, or one group"),
    ] = None,
    count: Annotated[int | None, typer.Option(help="One group of this many nodes")] = None,
    accelerator: Annotated[str | None, typer.Option(help="Their accelerator type")] = None,
    accelerators: Annotated[int | None, typer.Option(help="Accelerators per node")] = None,
    cpu: Annotated[float | None, typer.Option(help="CPU cores per node")] = None,
    memory_gib: Annotated[float | None, typer.Option(help="Memory per node (GiB)")] = None,
    name_prefix: Annotated[str | None, typer.Option(help="Names: PREFIX-<number>")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Declare more nodes at SITE (a new rack), from FILE or as one group (--count and the
    options beside it); their names continue the site's numbering."""
    check_number("--cpu", cpu, least=0, strict=True)
    check_number("--memory-gib", memory_gib, least=0, strict=True)
    given = {
        "count": count,
        "accelerator": accelerator,
        "accelerators": accelerators,
        "cpu": cpu,
        "memory_gib": memory_gib,
        "name_prefix": name_prefix,
    }
    group = {key: value for key, value in given.items() if value is not None}
    if file is not None and group:
        raise fail("give FILE or --count and its options, not both")
    if file is None:
        if count is None:
            raise fail("give FILE or --count (one group of that many nodes)")
        groups = [group]
    else:
        try:
            raw = read_yaml(file, "node file")
        except SpecError as exc:
            raise fail(str(exc)) from None
        groups = file_items(file, raw, "nodes", "node group")
    added = call(url, token, "add_nodes", site, groups)["nodes"]
    names = [n["node"] for n in added]
    shown = ", ".join(names) if len(names) <= 8 else f"{names[0]} .. {names[-1]}"
    out.print(f"{len(names)} node(s) added to {site}: {shown}")


def _change_nodes(
    action: str, site: str, nodes: list[str] | None, url: str, token: str | None
) -> None:
    changed = call(url, token, "change_nodes", action, site, nodes)
    names = ", ".join(n["node"] for n in changed["nodes"])
    out.print(f"{action}: {names}")
    if changed["requeued_jobs"]:
        jobs = ", ".join(str(j) for j in changed["requeued_jobs"])
        out.print(f"jobs back in the queue (their runs are being stopped): {jobs}")
    for kept in changed.get("kept_drained") or []:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(kept["drained_at"]))
        out.print(
            f"{kept['node']} comes back drained, as {kept['drained_by'] or 'an operator'} "
            f"drained it at {when} UTC before its removal (`silkroute node undrain` to use it)"
        )


Nodes = Annotated[
    list[str] | None, typer.Option("--node", help="One node (repeat); default: the whole site")
]


@node_app.command("drain")
def node_drain(site: str, node: Nodes = None, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """No new work on the site's nodes (or the --node ones); what runs there finishes."""
    _change_nodes("drain", site, node, url, token)


@node_app.command("undrain")
def node_undrain(
    site: str, node: Nodes = None, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """Drained nodes take work again."""
    _change_nodes("undrain", site, node, url, token)


@node_app.command("remove")
def node_remove(site: str, node: Nodes = None, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Take the site's nodes (or the --node ones) out; work running there is stopped and
    goes back to the queue (it runs again elsewhere, from its checkpoint if it keeps one)."""
    _change_nodes("remove", site, node, url, token)


@node_app.command("restore")
def node_restore(
    site: str, node: Nodes = None, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """Removed nodes (default: all of the site's) come back as they were before their
    removal (active, or drained if an operator drained them first), once the runs they held
    are confirmed stopped (else refused, naming the node and the run)."""
    _change_nodes("restore", site, node, url, token)


# ----- jobs -------------------------------------------------------------------------------------
def submit(
    file: Path,
    url: Url = DEFAULT_URL,
    token: Token = None,
    key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Retrying with this key never duplicates"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Submit the job(s) in FILE (one job, a list, or `jobs:`). Several jobs are one
    request: all of them are stored, or none (the error names `jobs[i]`)."""
    try:
        raw = read_yaml(file, "job file")
    except SpecError as exc:
        raise fail(str(exc)) from None
    if isinstance(raw, dict) and "jobs" in raw:
        raw = raw["jobs"]
    jobs = raw if isinstance(raw, list) else [raw]
    if not jobs or not all(isinstance(j, dict) for j in jobs):
        raise fail(f"{file}: a job is a mapping of fields (see docs/job-spec.md)")
    if len(jobs) == 1:
        created = [call(url, token, "submit", jobs[0], key)]
    else:
        client = Client(url, token)
        try:
            created = client.submit_batch(jobs, key)["jobs"]
        except ApiError as exc:
            if exc.status:  # refused: the server stored nothing of the batch
                raise fail(f"{exc}\n(no job of {file} was submitted)") from None
            raise fail(str(exc)) from None
        finally:
            client.close()
    for job in created:
        if as_json:
            print_json(job)
        else:
            out.print(f"job {job['id']} ({job['name']}) {job['state']}")


def jobs(
    url: Url = DEFAULT_URL,
    token: Token = None,
    state: Annotated[str | None, typer.Option(help="Only jobs in this state")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's (staff tokens)")] = None,
    limit: Annotated[int, typer.Option(help="Most jobs to list")] = 50,
    as_json: AsJson = False,
) -> None:
    """Your jobs, newest first."""
    page = call(url, token, "jobs", state=state, tenant=tenant, limit=limit)
    if as_json:
        print_json(page)
        return
    table = Table("id", "name", "tenant", "state", "site", "type", "submitted", "why waiting")
    for j in page["jobs"]:
        table.add_row(
            str(j["id"]),
            j["name"],
            j["tenant"],
            j["state"],
            j["site"] or "-",
            j["accelerator_type"] or "-",
            when(j["submitted_at"]),
            j["hold_message"] or "",
        )
    out.print(table)


def job(job_id: int, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """One job: its state, history, runs, and why it waits at each site."""
    detail = call(url, token, "job", job_id)
    if as_json:
        print_json(detail)
        return
    out.print(
        f"job {detail['id']} {detail['name']} ({detail['tenant']}): [bold]{detail['state']}[/]"
    )
    if detail["site"]:
        out.print(f"site {detail['site']}, {detail['accelerator_type'] or 'CPU'}")
    if detail["hold_message"] and detail["state"] != "pending":  # (pending: per site, below)
        out.print(f"waiting: {detail['hold_message']}")  # for its old run to be gone
    history = Table("time (UTC)", "state", "reason", "site", "message", title="history")
    for e in detail["events"]:
        history.add_row(when(e["at"]), e["state"], e["reason"], e["site"] or "", e["message"])
    out.print(history)
    if detail["runs"]:
        runs = Table("run", "site", "type", "accelerators", "outcome", "exit", title="runs")
        for r in detail["runs"]:
            runs.add_row(
                r["run_id"],
                r["site"],
                r["accelerator_type"] or "CPU",
                f"{r['accelerators']:g}",
                r["outcome"] or r["state"],
                "" if r["exit_code"] is None else str(r["exit_code"]),
            )
        out.print(runs)
    if detail["reasons_by_site"]:
        why = Table("site", "why not running there now", title="per site")
        for site, reason in sorted(detail["reasons_by_site"].items()):
            why.add_row(site, reason)
        out.print(why)


def cancel(job_id: int, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Cancel a job: a running one gets SIGTERM, then SIGKILL after the grace period."""
    done = call(url, token, "cancel", job_id)
    out.print(f"job {done['id']} cancel requested (was {done['state']})")


def logs(
    job_id: int,
    url: Url = DEFAULT_URL,
    token: Token = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it ends")
    ] = False,
    stderr: Annotated[bool, typer.Option("--stderr", help="Standard error instead")] = False,
) -> None:
    """The output of the job's latest run (rank 0)."""
    stream = "stderr" if stderr else "stdout"
    offset = 0
    while True:
        chunk = call(url, token, "logs", job_id, offset, stream)
        if chunk["text"]:
            sys.stdout.write(chunk["text"])
            sys.stdout.flush()
        offset = chunk["offset"]
        if not follow or (chunk["finished"] and not chunk["text"]):
            return
        if not chunk["text"]:
            time.sleep(0.5)


def usage(
    url: Url = DEFAULT_URL,
    token: Token = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (staff tokens)")] = None,
    since: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD (UTC)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD, exclusive")] = None,
    as_json: AsJson = False,
) -> None:
    """Accelerator-hours and cost per tenant, site and type; vouchers and budgets."""
    report = call(url, token, "usage", tenant=tenant, **{"from": since, "to": until})
    if as_json:
        print_json(report)
        return
    rows = Table(
        "tenant",
        "site",
        "type",
        "jobs",
        "accel-hours",
        "voucher h",
        "paid h",
        "cost",
        title="usage",
    )
    for r in report["rows"]:
        rows.add_row(
            r["tenant"],
            r["site"],
            r["accelerator_type"] or "CPU",
            str(r["jobs"]),
            f"{r['accelerator_hours']:.4f}",
            f"{r['voucher_hours']:.4f}",
            f"{r['paid_hours']:.4f}",
            f"{r['cost']:.4f}",
        )
    out.print(rows)
    balances = Table(
        "tenant",
        "accel-hours",
        "cost",
        "voucher h left",
        "spent this month",
        "budget / month",
        title="balances",
    )
    for t in report["tenants"]:
        budget = "-" if t["monthly_budget"] is None else f"{t['monthly_budget']:.2f}"
        balances.add_row(
            t["tenant"],
            f"{t['accelerator_hours']:.4f}",
            f"{t['cost']:.4f}",
            f"{t['voucher_hours_left']:.4f}",
            f"{t['month_spend']:.4f}",
            budget,
        )
    out.print(balances)


def register(app: typer.Typer) -> None:
    """Mount the platform's commands on the main `silkroute` app."""
    from silkroute.control.demo.run import demo

    app.command("server")(server)
    app.add_typer(admin_app, name="admin")
    app.add_typer(site_app, name="site")
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(token_app, name="token")
    app.add_typer(node_app, name="node")
    for command in (submit, jobs, job, cancel, logs, usage, demo):
        app.command()(command)
