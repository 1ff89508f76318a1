"""One set of bounds for a tenant's settings: `POST /v1/tenants` accepts exactly what
`PATCH /v1/tenants/{name}` accepts; booleans are refused where a number is meant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from silkroute.store.models import TenantRow
from tests.platform.conftest import Api
from tests.platform.test_tenant_limits import LAB


@dataclass(frozen=True)
class Bound:
    name: str
    field: str
    value: Any  # sent as raw JSON text when a string (1e999 has no Python float to send)
    accepted: bool


BOUNDS = [
    Bound("the largest weight", "weight", 1e6, True),
    Bound("a weight past the largest", "weight", 1.5e6, False),
    Bound("a zero weight", "weight", 0, False),
    Bound("a boolean weight", "weight", True, False),
    Bound("the most voucher hours", "voucher_accelerator_hours", 1e12, True),
    Bound("voucher hours past the most", "voucher_accelerator_hours", 2e12, False),
    Bound("negative voucher hours", "voucher_accelerator_hours", -1, False),
    Bound("boolean voucher hours", "voucher_accelerator_hours", False, False),
    Bound("infinite voucher hours", "voucher_accelerator_hours", "1e999", False),
    Bound("the largest budget", "monthly_budget", 1e12, True),
    Bound("a budget past the largest", "monthly_budget", 1.5e12, False),
    Bound("a boolean budget", "monthly_budget", True, False),
    Bound("the largest pending cap", "max_pending_jobs", 100_000_000, True),
    Bound("a pending cap past the largest", "max_pending_jobs", 100_000_001, False),
    Bound("a boolean pending cap", "max_pending_jobs", True, False),
    Bound("the largest integer ceiling", "max_priority", 10**9, True),
    Bound("an integer ceiling past the largest", "max_priority", 10**9 + 1, False),
    Bound("a boolean ceiling", "max_priority", True, False),
    Bound("a quota", "quota", {"H100": 8}, True),
    Bound("a boolean quota", "quota", {"H100": True}, False),
    Bound("a negative quota", "quota", {"H100": -1}, False),
    Bound("an infinite quota", "quota", '{"H100": 1e999}', False),
]


def _send(api: Api, method: str, path: str, body: dict[str, Any], raw: str | None) -> Any:
    text = json.dumps(body)
    if raw is not None:  # the value as JSON text, spliced in
        text = text.replace('"__RAW__"', raw)
    headers = api.admin_headers() | {"Content-Type": "application/json"}
    return api.client.request(method, path, content=text, headers=headers)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", BOUNDS, ids=lambda c: c.name)
def test_create_accepts_exactly_what_patch_accepts(api: Api, case: Bound) -> None:
    raw = case.value if isinstance(case.value, str) else None
    value = "__RAW__" if raw is not None else case.value
    api.tenant("existing")
    patched = _send(api, "PATCH", "/v1/tenants/existing", {case.field: value}, raw)
    created = _send(
        api, "POST", "/v1/tenants", {"name": "new", "country": "SG", case.field: value}, raw
    )
    for got in (patched, created):
        assert got.status_code in ((200, 201) if case.accepted else (422,)), got.text
    if case.accepted:
        shown = [
            api.client.get(f"/v1/tenants/{name}", headers=api.admin_headers()).json()
            for name in ("existing", "new")
        ]
        assert shown[0][case.field] == shown[1][case.field]
        return
    fields = [[e["field"] for e in got.json()["errors"]] for got in (patched, created)]
    assert fields[0] == fields[1] and fields[0][0].startswith(case.field), fields
    listed = api.client.get("/v1/tenants", headers=api.admin_headers()).json()
    assert [t["name"] for t in listed] == ["existing"]  # create stored nothing


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tenant_stored_before_a_bound_still_works(api: Api) -> None:
    """A weight above today's bound, stored when there was none, is read back as it is:
    the tenant is listed, its jobs run, and a PATCH of its weight brings it in bounds."""
    api.add_sites([LAB])
    token = api.tenant("old")
    with api.platform.store.session() as session:
        session.execute(update(TenantRow).where(TenantRow.name == "old").values(weight=5e6))
        session.commit()
    api.platform.tenants_checked_at = 0.0
    api.platform.loop.request_rebuild()
    got = api.client.get("/v1/tenants/old", headers=api.admin_headers())
    assert got.status_code == 200 and got.json()["weight"] == 5e6, got.text
    job = api.submit(token, name="still-runs", accelerators_per_worker=0)
    assert job.status_code == 201, job.text
    api.wait_for(token, job.json()["id"], ("succeeded",))
    fixed = api.client.patch("/v1/tenants/old", json={"weight": 1e6}, headers=api.admin_headers())
    assert fixed.status_code == 200 and fixed.json()["weight"] == 1e6, fixed.text


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("workers", True, "workers"),
        ("accelerators_per_worker", True, "accelerators_per_worker"),
        ("priority", True, "priority"),
        ("time_limit_s", True, "time_limit_s"),
        ("max_retries", False, "max_retries"),
        ("accelerator_types", {"A800": True}, 'accelerator_types["A800"]'),
    ],
)
def test_a_job_with_a_boolean_for_a_number_is_refused(
    api: Api, field: str, value: Any, named: str
) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    spec = {"accelerators_per_worker": 1} if field == "accelerator_types" else {}
    got = api.submit(token, **{**spec, field: value})
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == named
    assert "not a boolean" in got.json()["message"]
    listed = api.client.get("/v1/jobs", headers=api.as_(token)).json()["jobs"]
    assert listed == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_site_with_a_boolean_for_a_number_is_refused(api: Api) -> None:
    site = {**LAB, "nodes": [{**LAB["nodes"][0], "accelerators": True}]}
    got = api.client.post("/v1/sites", json=site, headers=api.admin_headers())
    assert got.status_code == 422, got.text
    assert "nodes" in got.json()["message"] and "not a boolean" in got.json()["message"]
