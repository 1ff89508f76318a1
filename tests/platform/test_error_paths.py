"""Every refusal of the API names the field by one spelling of its path (`jobs[2].workers`,
`nodes[0].count`, `quota["A100"]`), in the message and in `errors[].field`, and gives the
same path as a list in `errors[].loc`, whichever check refused it: FastAPI's (a body model),
the submit path's, a batch's, or the store's. Quota amounts, prices, latencies and job
times have a ceiling: a number past it is refused naming its key, and nothing is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.platform.conftest import Api
from tests.platform.test_cli import cli
from tests.platform.test_tenant_limits import LAB

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Refusal:
    name: str
    method: str
    url: str
    body: Any
    field: str
    loc: list[str | int]
    reason: str
    as_tenant: bool = False  # the request is the tenant's, else the admin's
    setup: dict[str, Any] = field(default_factory=dict)


def job(**fields: Any) -> dict[str, Any]:
    return {"name": "j", "command": "true", **fields}


REFUSALS = [
    # FastAPI's checks of a body model
    Refusal("a node group of a new site, a nested list", "POST", "/v1/sites",
            {**LAB, "name": "lab2", "nodes": [{"count": 1}, {"count": 0}]},
            "nodes[1].count", ["nodes", 1, "count"],
            "Input should be greater than or equal to 1"),
    Refusal("a site's price for a type whose name holds a space", "POST", "/v1/sites",
            {**LAB, "name": "lab2", "price_per_accelerator_hour": {"A100 80GB": 1e9}},
            'price_per_accelerator_hour["A100 80GB"]',
            ["price_per_accelerator_hour", "A100 80GB"],
            "Input should be less than or equal to 1000000"),
    Refusal("a site's latency to a region", "POST", "/v1/sites",
            {**LAB, "name": "lab2", "latency_ms": {"MY": -1}},
            'latency_ms["MY"]', ["latency_ms", "MY"],
            "Input should be greater than or equal to 0"),
    Refusal("a new tenant's quota past any centre", "POST", "/v1/tenants",
            {"name": "big", "country": "SG", "quota": {"A100": 1e300}},
            'quota["A100"]', ["quota", "A100"],
            "Input should be less than or equal to 10000000"),
    Refusal("a new tenant's quota of every type, negative", "POST", "/v1/tenants",
            {"name": "big", "country": "SG", "quota": {"*": -1}},
            'quota["*"]', ["quota", "*"], "Input should be greater than or equal to 0"),
    Refusal("a changed quota past the bound", "PATCH", "/v1/tenants/acme",
            {"quota": {"A100": 10_000_001}},
            'quota["A100"]', ["quota", "A100"],
            "Input should be less than or equal to 10000000"),
    # the submit path's own checks
    Refusal("a job's map key, a boolean for a number", "POST", "/v1/jobs",
            job(accelerator_types={"A800": True}),
            'accelerator_types["A800"]', ["accelerator_types", "A800"],
            "must be a number, not a boolean (true/false)", as_tenant=True),
    Refusal("a NUL in an environment variable", "POST", "/v1/jobs",
            job(env={"GREETING": "hi\x00"}),
            'env["GREETING"]', ["env", "GREETING"], "contains a NUL character",
            as_tenant=True),
    Refusal("a time limit past ten years", "POST", "/v1/jobs",
            job(time_limit_s=1e12), "time_limit_s", ["time_limit_s"],
            "Input should be less than or equal to 316224000", as_tenant=True),
    Refusal("an inference job's latency SLO past any site's", "POST", "/v1/jobs",
            job(kind="inference", latency_slo_ms={"SG": 1e9}),
            'latency_slo_ms["SG"]', ["latency_slo_ms", "SG"],
            "Input should be less than or equal to 1000000", as_tenant=True),
    # a batch: each field under its job's index
    Refusal("the third job of a batch", "POST", "/v1/jobs:batch",
            {"jobs": [job(), job(name="k"), job(name="l", workers=0)]},
            "jobs[2].workers", ["jobs", 2, "workers"],
            "Input should be greater than or equal to 1", as_tenant=True),
    Refusal("a key of the second job of a batch", "POST", "/v1/jobs:batch",
            {"jobs": [job(), job(name="k", env={"LANG": 1})]},
            'jobs[1].env["LANG"]', ["jobs", 1, "env", "LANG"],
            "Input should be a valid string", as_tenant=True),
    # the store's checks
    Refusal("a site the job names, in a batch", "POST", "/v1/jobs:batch",
            {"jobs": [job(), job(name="k", sites=["atlantis"])]},
            "jobs[1].sites", ["jobs", 1, "sites"], "no site named 'atlantis'", as_tenant=True),
    Refusal("a node the site does not have", "POST", "/v1/sites/lab/drain",
            {"nodes": ["lab-a800-00000", "lab-nowhere"]},
            "nodes[1]", ["nodes", 1], "site lab has no node 'lab-nowhere'"),
    # not the body: FastAPI's own first step stays
    Refusal("an action no node takes, in the URL", "POST", "/v1/sites/lab/paint", None,
            "path.action", ["path", "action"], "Input should be 'drain', 'undrain'"),
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.name)
def test_a_refusal_names_the_exact_path(api: Api, case: Refusal) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    headers = api.as_(token) if case.as_tenant else api.admin_headers()
    tenants_before = api.client.get("/v1/tenants", headers=api.admin_headers()).json()
    got = api.client.request(case.method, case.url, json=case.body, headers=headers)
    assert got.status_code == 422, got.text
    body = got.json()
    first = body["errors"][0]
    assert first == {"field": case.field, "reason": first["reason"], "loc": case.loc}, body
    assert first["reason"].startswith(case.reason), body
    assert body["message"].startswith(f"{case.field}: {case.reason}"), body
    assert api.client.get("/v1/tenants", headers=api.admin_headers()).json() == tenants_before
    jobs = api.client.get("/v1/jobs", headers=api.admin_headers()).json()["jobs"]
    assert jobs == []


def test_the_cli_prints_the_quota_path_of_the_servers_refusal(
    api: Api, server_url: str, tmp_path: Path
) -> None:
    api.tenant("acme")
    code, out = cli(server_url, api.admin, "tenant", "update", "acme", "--quota", "A100=2e7")
    assert code == 2, out
    assert 'quota["A100"]: Input should be less than or equal to 10000000' in out, out
    shown = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    assert shown["quota"] == {}
