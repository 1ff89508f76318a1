"""A tenant's quota names accelerator types the platform knows: `*`, a catalogue type (or an
alias of one), or the type of a registered site's nodes (a trace code such as `G7`). A typo
(`H1OO`) was stored and limited nothing while the real type stayed unlimited; now it is
refused naming `quota["H1OO"]` and the known types, and nothing is stored. SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.store.models import AuditRecordRow
from tests.platform.conftest import Api
from tests.platform.test_cli import cli

CATALOGUE_SITE = {
    "name": "lab",
    "country": "SG",
    "nodes": [{"count": 1, "accelerator": "A800", "accelerators": 2, "cpu": 16}],
}
CODED_SITE = {
    "name": "trace",
    "country": "SG",
    "nodes": [{"count": 1, "accelerator": "G7", "accelerators": 2, "cpu": 16}],
}


@dataclass(frozen=True)
class QuotaCase:
    name: str
    sites: list[dict[str, Any]]
    quota: dict[str, float]
    stored: dict[str, float] | None  # None: refused naming `refused`
    refused: str = ""


CASES = [
    QuotaCase("a typo of a catalogue type is refused", [CATALOGUE_SITE], {"H1OO": 8}, None,
              'quota["H1OO"]'),
    QuotaCase("a typo beside good types is refused, the good ones not stored either",
              [CATALOGUE_SITE], {"A800": 2, "*": 4, "A1OO": 1}, None, 'quota["A1OO"]'),
    QuotaCase("a trace code no registered site has is refused", [CATALOGUE_SITE], {"G7": 4},
              None, 'quota["G7"]'),
    QuotaCase("a catalogue type is taken, with no site of that type", [CATALOGUE_SITE],
              {"H100": 8}, {"H100": 8}),
    QuotaCase("an alias is taken under its catalogue name", [], {"h100": 8}, {"H100": 8}),
    QuotaCase("every type at once is taken", [], {"*": 16}, {"*": 16}),
    QuotaCase("a trace code a registered site's nodes have is taken",
              [CATALOGUE_SITE, CODED_SITE], {"G7": 4, "A800": 2}, {"G7": 4, "A800": 2}),
]  # fmt: skip


def tenant_actions(api: Api, name: str) -> list[str]:
    with api.platform.store.session() as session:
        rows = session.scalars(
            select(AuditRecordRow).where(AuditRecordRow.subject == f"tenant/{name}")
        )
        return [str(json.loads(row.detail)["action"]) for row in rows]


def check_refusal(got: Any, case: QuotaCase) -> None:
    assert got.status_code == 422, got.text
    body = got.json()
    assert [e["field"] for e in body["errors"]] == [case.refused], body
    assert body["message"].startswith(f"{case.refused}: unknown accelerator type; known: *,")
    assert "A100" in body["message"] and "\n" not in body["message"], body["message"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_new_tenants_quota_names_known_types(api: Api, case: QuotaCase) -> None:
    api.add_sites(case.sites)
    body = {"name": "acme", "country": "SG", "quota": case.quota}
    got = api.client.post("/v1/tenants", json=body, headers=api.admin_headers())
    if case.stored is None:
        check_refusal(got, case)
        shown = api.client.get("/v1/tenants/acme", headers=api.admin_headers())
        assert shown.status_code == 404, shown.text
        assert tenant_actions(api, "acme") == []
        return
    assert got.status_code == 201, got.text
    shown = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    assert shown["quota"] == case.stored


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_changed_quota_names_known_types(api: Api, case: QuotaCase) -> None:
    api.add_sites(case.sites)
    api.tenant("acme", quota={"A800": 1})
    before = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    got = api.client.patch(
        "/v1/tenants/acme", json={"quota": case.quota}, headers=api.admin_headers()
    )
    after = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    if case.stored is None:
        check_refusal(got, case)
        assert after == before
        assert tenant_actions(api, "acme") == ["tenant create"]
        return
    assert got.status_code == 200, got.text
    assert after["quota"] == case.stored


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_prints_the_refused_quota_key(api: Api, server_url: str) -> None:
    api.add_sites([CATALOGUE_SITE])
    api.tenant("acme")
    code, out = cli(server_url, api.admin, "tenant", "update", "acme", "--quota", "H1OO=8")
    assert code == 2, out
    assert 'quota["H1OO"]: unknown accelerator type; known: *, A10, A100' in out, out
    shown = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    assert shown["quota"] == {}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_creates_a_tenant_with_a_quota_and_vouchers_only(api: Api, server_url: str) -> None:
    api.add_sites([CATALOGUE_SITE])
    args = ("--country", "TH", "--quota", "A100=8", "--quota", "*=12", "--vouchers-only")
    code, out = cli(server_url, api.admin, "tenant", "create", "chula", *args)
    assert code == 0 and "chula created" in out, out
    shown = api.client.get("/v1/tenants/chula", headers=api.admin_headers()).json()
    assert shown["quota"] == {"A100": 8, "*": 12} and shown["pay_as_you_go"] is False, shown
    code, out = cli(
        server_url, api.admin, "tenant", "create", "typo", "--country", "TH", "--quota", "H1OO=8"
    )
    assert code == 2 and 'quota["H1OO"]: unknown accelerator type' in out, out
    assert api.client.get("/v1/tenants/typo", headers=api.admin_headers()).status_code == 404
