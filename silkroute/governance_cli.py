"""`silkroute dataset add|list|show|update|retire|restore`, `silkroute compliance add|list`,
`silkroute explain JOB`.

Thin HTTP clients of the control plane (URL and token from `--url`/`--token` or
SILKROUTE_URL/SILKROUTE_TOKEN); the server validates and decides.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from silkroute.client import DEFAULT_URL
from silkroute.model.errors import SpecError, read_yaml
from silkroute.platform_cli import (
    AsJson,
    Token,
    Url,
    call,
    fail,
    file_items,
    out,
    print_json,
)

dataset_app = typer.Typer(help="The dataset registry (origin, data class, copies).")
compliance_app = typer.Typer(help="Transfer mechanisms a tenant holds (contracts, filings).")


def _request(url: str, token: str | None, method: str, path: str, **kwargs: Any) -> Any:
    return call(url, token, "request", method, path, **kwargs)


@dataset_app.command("add")
def dataset_add(file: Path, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Register the dataset(s) in FILE (one dataset, or `datasets:` with a list)."""
    try:
        raw = read_yaml(file, "dataset file")
    except SpecError as exc:
        raise fail(str(exc)) from None
    for item in file_items(file, raw, "datasets", "dataset"):
        got = _request(url, token, "POST", "/v1/datasets", json=item)
        out.print(f"dataset {got['name']} registered ({got['origin']}, {got['data_class']})")


@dataset_app.command("list")
def dataset_list(
    owner: Annotated[str | None, typer.Option(help="Only this tenant's (staff)")] = None,
    include_retired: Annotated[
        bool, typer.Option("--include-retired", help="Retired datasets too")
    ] = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Datasets you may see (a tenant: its own); retired ones with --include-retired."""
    params: dict[str, Any] = {"owner": owner}
    if include_retired:
        params["include_retired"] = "true"
    rows = _request(url, token, "GET", "/v1/datasets", params=params)
    if as_json:
        print_json(rows)
        return
    table = Table("name", "owner", "origin", "class", "subjects", "copies at", "size", "licence")
    for d in rows:
        table.add_row(
            d["name"] + (" (retired)" if d.get("retired_at") is not None else ""),
            d["owner"],
            d["origin"],
            d["data_class"],
            f"{d['subjects']:,}",
            ", ".join(d["sites"]) or "-",
            f"{d['size_bytes']:,}",
            d["licence"] or "-",
        )
    out.print(table)


@dataset_app.command("update")
def dataset_update(
    name: str,
    site: Annotated[
        list[str],
        typer.Option(
            help="A site holding a copy, repeated: replaces the registration's list (none: "
            "no site). Sites that declare the dataset themselves still count",
            show_default=False,
        ),
    ],
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Change where the registered dataset's copies sit (its owner, staff; audited)."""
    sites = [] if site == ["none"] else site
    got = _request(url, token, "PATCH", f"/v1/datasets/{name}", json={"sites": sites})
    where = ", ".join(f"{c['site']} ({'+'.join(c['recorded_by'])})" for c in got["copies"])
    out.print(f"dataset {got['name']}: copies at {where or 'no site'}")


@dataset_app.command("retire")
def dataset_retire(name: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Retire a dataset (its owner, staff; audited): no new job may read it, its record stays.
    Refused while a job reading it has not ended (cancel those first). `dataset restore`
    brings it back."""
    got = _request(url, token, "DELETE", f"/v1/datasets/{name}")
    out.print(f"dataset {got['name']} retired by {got['retired_by']}")


@dataset_app.command("restore")
def dataset_restore(name: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Bring a retired dataset back (its owner, staff; audited): new jobs may read it again
    and its copies count for placement again. Refused where it is not retired."""
    got = _request(url, token, "POST", f"/v1/datasets/{name}/restore")
    where = ", ".join(f"{c['site']} ({'+'.join(c['recorded_by'])})" for c in got["copies"])
    out.print(f"dataset {got['name']} restored; copies at {where or 'no site'}")


@dataset_app.command("show")
def dataset_show(name: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """One dataset, as JSON."""
    print_json(_request(url, token, "GET", f"/v1/datasets/{name}"))


@compliance_app.command("add")
def compliance_add(
    mechanism: Annotated[str, typer.Argument(help="consent, scc, asean_mcc, tia, ...")],
    origin: Annotated[str | None, typer.Option(help="For data from (default: any)")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Destinations, comma-separated (default: any)")
    ] = None,
    counterparty: Annotated[str, typer.Option(help="With whom (the recipient)")] = "",
    reference: Annotated[str, typer.Option(help="Contract number, filing receipt")] = "",
    valid_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    valid_until: Annotated[str | None, typer.Option(help="YYYY-MM-DD, last valid day")] = None,
    tenant: Annotated[str | None, typer.Option(help="For this tenant (staff)")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Record a transfer mechanism the tenant holds."""
    body: dict[str, Any] = {"mechanism": mechanism, "counterparty": counterparty}
    body["reference"] = reference
    optional = {"origin": origin, "valid_from": valid_from, "valid_until": valid_until}
    body.update({k: v for k, v in optional.items() if v is not None})
    if to is not None:
        body["destinations"] = [c.strip() for c in to.split(",") if c.strip()]
    if tenant is not None:
        body["tenant"] = tenant
    got = _request(url, token, "POST", "/v1/compliance", json=body)
    where = f"{got['origin'] or 'any'} -> {','.join(got['destinations'] or ['any'])}"
    out.print(f"recorded {got['mechanism']} for {got['tenant']} ({where}), id {got['id']}")


@compliance_app.command("list")
def compliance_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's (staff)")] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Mechanisms on record (a tenant: its own)."""
    rows = _request(url, token, "GET", "/v1/compliance", params={"tenant": tenant})
    if as_json:
        print_json(rows)
        return
    today = dt.datetime.now(dt.UTC).date().isoformat()
    table = Table("id", "tenant", "mechanism", "origin", "to", "with", "reference", "valid")
    for g in rows:
        lapsed = g["valid_until"] is not None and g["valid_until"] < today
        valid = f"{g['valid_from'] or '...'} .. {g['valid_until'] or '...'}"
        table.add_row(
            str(g["id"]),
            g["tenant"],
            g["mechanism"],
            g["origin"] or "any",
            ",".join(g["destinations"] or ["any"]),
            g["counterparty"] or "-",
            g["reference"] or "-",
            valid + (" (lapsed)" if lapsed else ""),
        )
    out.print(table)


def explain(
    job_id: int, as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """Per site: may the job's data go there, and why (rule, legal basis, unblock)."""
    got = _request(url, token, "GET", f"/v1/jobs/{job_id}/explain")
    if as_json:
        print_json(got)
        return
    datasets = ", ".join(got["datasets"]) or "none"
    print(f"job {got['job']} ({got['tenant']}, {got['state']}); datasets: {datasets}")
    print(f"rules {got['rules_version']} read on {got['date']}")
    if got["hold_reason"]:
        print(f"held: {got['hold_reason']}: {got['hold_message']}")
    for line in got["lines"]:
        print(line)


def register(app: typer.Typer) -> None:
    """Mount `dataset`, `compliance` and `explain` on the main `silkroute` app."""
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(compliance_app, name="compliance")
    app.command("explain")(explain)
