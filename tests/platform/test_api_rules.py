"""What the API refuses, who may see what, and retried submits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from silkroute.store.models import JobRow
from tests.platform.conftest import Api


def stored_jobs(api: Api) -> int:
    with api.platform.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(JobRow)) or 0)


# ----- tenant isolation: every endpoint, table-driven ------------------------------------------
@dataclass(frozen=True)
class Access:
    name: str
    call: Callable[[Api, dict[str, str], int], Any]
    want_status: int


ISOLATION = [
    Access(
        "reading another tenant's job answers 404",
        lambda a, h, j: a.client.get(f"/v1/jobs/{j}", headers=h),
        404,
    ),
    Access(
        "cancelling another tenant's job answers 404",
        lambda a, h, j: a.client.delete(f"/v1/jobs/{j}", headers=h),
        404,
    ),
    Access(
        "reading another tenant's logs answers 404",
        lambda a, h, j: a.client.get(f"/v1/jobs/{j}/logs", headers=h),
        404,
    ),
    Access(
        "reading another tenant's record answers 404",
        lambda a, h, j: a.client.get("/v1/tenants/owner", headers=h),
        404,
    ),
    Access(
        "asking for another tenant's usage answers 404",
        lambda a, h, j: a.client.get("/v1/usage", params={"tenant": "owner"}, headers=h),
        404,
    ),
    Access(
        "submitting in another tenant's name is forbidden",
        lambda a, h, j: a.client.post(
            "/v1/jobs", json={"name": "x", "tenant": "owner", "command": "true"}, headers=h
        ),
        403,
    ),
    Access(
        "creating a tenant needs the admin role",
        lambda a, h, j: a.client.post(
            "/v1/tenants", json={"name": "new", "country": "TH"}, headers=h
        ),
        403,
    ),
    Access(
        "adding a site needs an operator or admin",
        lambda a, h, j: a.client.post(
            "/v1/sites", json={"name": "x", "country": "TH", "nodes": [{"count": 1}]}, headers=h
        ),
        403,
    ),
    Access(
        "reading another tenant's dataset answers 404",
        lambda a, h, j: a.client.get("/v1/datasets/owner-data", headers=h),
        404,
    ),
    Access(
        "registering a dataset in another tenant's name is forbidden",
        lambda a, h, j: a.client.post(
            "/v1/datasets",
            json={"name": "x", "owner": "owner", "origin": "SG", "data_class": "public"},
            headers=h,
        ),
        403,
    ),
    Access(
        "recording a mechanism for another tenant is forbidden",
        lambda a, h, j: a.client.post(
            "/v1/compliance", json={"tenant": "owner", "mechanism": "scc"}, headers=h
        ),
        403,
    ),
    Access(
        "listing another tenant's mechanisms answers 404",
        lambda a, h, j: a.client.get("/v1/compliance", params={"tenant": "owner"}, headers=h),
        404,
    ),
    Access(
        "revoking another's token (the admin's, id 1) answers 404",
        lambda a, h, j: a.client.delete("/v1/tokens/1", headers=h),
        404,
    ),
    Access(
        "issuing a token for another tenant answers 404",
        lambda a, h, j: a.client.post("/v1/tokens", json={"tenant": "owner"}, headers=h),
        404,
    ),
    Access(
        "issuing an operator token needs the admin role",
        lambda a, h, j: a.client.post("/v1/tokens", json={"role": "operator"}, headers=h),
        403,
    ),
    Access(
        "draining a site needs an operator or admin",
        lambda a, h, j: a.client.post("/v1/sites/singapore/drain", headers=h),
        403,
    ),
    Access(
        "removing a site's nodes needs an operator or admin",
        lambda a, h, j: a.client.post("/v1/sites/singapore/remove", headers=h),
        403,
    ),
    Access(
        "changing another tenant's settings answers 404",
        lambda a, h, j: a.client.patch(
            "/v1/tenants/owner", json={"max_priority": "critical"}, headers=h
        ),
        404,
    ),
    Access(
        "changing its own settings needs the admin role",
        lambda a, h, j: a.client.patch(
            "/v1/tenants/other", json={"max_priority": "critical"}, headers=h
        ),
        403,
    ),
    Access(
        "reading the metrics (every tenant's queue) needs an operator or admin",
        lambda a, h, j: a.client.get("/metrics", headers=h),
        403,
    ),
    Access(
        "explaining another tenant's job answers 404",
        lambda a, h, j: a.client.get(f"/v1/jobs/{j}/explain", headers=h),
        404,
    ),
]


@pytest.mark.parametrize("case", ISOLATION, ids=lambda c: c.name)
def test_a_tenant_cannot_reach_another_tenants_things(api: Api, case: Access) -> None:
    api.add_sites()
    owner = api.tenant("owner")
    other = api.tenant("other")
    dataset = {"name": "owner-data", "origin": "SG", "data_class": "public"}
    assert api.client.post("/v1/datasets", json=dataset, headers=api.as_(owner)).status_code == 201
    job_id = api.submit(owner, command="sleep 0.2").json()["id"]
    before = api.job(owner, job_id)
    got = case.call(api, api.as_(other), job_id)
    assert got.status_code == case.want_status, got.text
    assert got.json()["code"] in ("not_found", "forbidden")
    after = api.job(owner, job_id)
    assert after["cancel_requested"] == before["cancel_requested"] is False


def test_listings_show_a_tenant_only_its_own(api: Api) -> None:
    api.add_sites()
    owner, other = api.tenant("owner"), api.tenant("other")
    api.submit(owner, name="mine")
    api.submit(other, name="theirs")
    listed = api.client.get("/v1/jobs", headers=api.as_(other)).json()["jobs"]
    assert [j["name"] for j in listed] == ["theirs"]
    tenants = api.client.get("/v1/tenants", headers=api.as_(other)).json()
    assert [t["name"] for t in tenants] == ["other"]
    for who, name in ((owner, "mine"), (other, "theirs")):
        body = {"name": f"{name}-data", "origin": "TH", "data_class": "public"}
        assert api.client.post("/v1/datasets", json=body, headers=api.as_(who)).status_code == 201
    datasets = api.client.get("/v1/datasets", headers=api.as_(other)).json()
    assert [d["name"] for d in datasets] == ["theirs-data"]
    asked = api.client.get("/v1/datasets", params={"owner": "owner"}, headers=api.as_(other))
    assert asked.json() == []
    everyone = api.client.get("/v1/jobs", headers=api.admin_headers()).json()["jobs"]
    assert sorted(j["name"] for j in everyone) == ["mine", "theirs"]


def test_a_tenant_filtering_by_another_tenant_gets_nothing_not_its_own_jobs(api: Api) -> None:
    # The filter was dropped for tenants, so asking for `other`'s jobs listed one's own.
    api.add_sites()
    owner, other = api.tenant("owner"), api.tenant("other")
    api.submit(owner, name="mine")
    api.submit(other, name="theirs")
    asked = api.client.get("/v1/jobs", params={"tenant": "owner"}, headers=api.as_(other))
    assert asked.status_code == 200 and asked.json()["jobs"] == []
    own = api.client.get("/v1/jobs", params={"tenant": "other"}, headers=api.as_(other))
    assert [j["name"] for j in own.json()["jobs"]] == ["theirs"]


def test_usage_for_a_window_that_ends_before_it_starts_is_refused(api: Api) -> None:
    token = api.tenant("t1")
    got = api.client.get(
        "/v1/usage", params={"from": "2026-12-01", "to": "2026-01-01"}, headers=api.as_(token)
    )
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == "to"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer sr_not-a-token", "Basic dXNlcjpwYXNz"],
    ids=["no header", "no token", "unknown token", "wrong scheme"],
)
def test_requests_without_a_valid_token_get_401(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path in [
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/usage"),
        ("GET", "/v1/sites"),
        ("GET", "/v1/jobs/1"),
    ]:
        got = api.client.request(method, path, headers=headers, json={"name": "x"})
        assert got.status_code == 401, (method, path, got.text)
    assert stored_jobs(api) == 0


# ----- idempotency --------------------------------------------------------------------------
def test_a_retried_submit_with_the_same_key_returns_the_same_job(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    headers = {**api.as_(token), "Idempotency-Key": "abc-123"}
    body = {"name": "once", "command": "true"}
    first = api.client.post("/v1/jobs", json=body, headers=headers)
    second = api.client.post("/v1/jobs", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert stored_jobs(api) == 1
    # Another tenant may use the same key for its own job.
    other = api.tenant("t2")
    third = api.client.post(
        "/v1/jobs", json=body, headers={**api.as_(other), "Idempotency-Key": "abc-123"}
    )
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]


def test_a_key_reused_for_a_different_job_is_refused_not_answered_with_the_old_one(
    api: Api,
) -> None:
    # As the IETF Idempotency-Key draft says: the same key with another payload is a client
    # error. Answering with the first job would tell the client its second job was accepted.
    api.add_sites()
    token = api.tenant("t1")
    headers = {**api.as_(token), "Idempotency-Key": "nightly"}
    first = api.client.post("/v1/jobs", json={"name": "a", "command": "true"}, headers=headers)
    assert first.status_code == 201, first.text
    other = api.client.post("/v1/jobs", json={"name": "b", "command": "true"}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert f"job {first.json()['id']}" in other.json()["message"]
    assert stored_jobs(api) == 1
    # The same body again is still a retry.
    again = api.client.post("/v1/jobs", json={"name": "a", "command": "true"}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


# ----- bad input ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    name: str
    body: bytes
    content_type: str
    want_status: int
    want_field: str
    want_reason: str = ""


BAD_INPUT = [
    Bad("malformed JSON", b'{"name": "x", ', "application/json", 400, ""),
    Bad("malformed YAML", b"name: [x\ncommand: true", "application/yaml", 400, ""),
    Bad("a list instead of an object", b"[1, 2]", "application/json", 422, "(body)"),
    Bad(
        "workers of the wrong type",
        b'{"name":"x","command":"true","workers":"many"}',
        "application/json",
        422,
        "workers",
    ),
    Bad(
        "a negative accelerator count",
        b'{"name":"x","command":"true","accelerators_per_worker":-1}',
        "application/json",
        422,
        "accelerators_per_worker",
    ),
    Bad(
        "a gang larger than the federation",
        b'{"name":"x","command":"true","workers":4000,"accelerators_per_worker":8}',
        "application/json",
        422,
        "(job)",
    ),
    Bad(
        "a huge number",
        b'{"name":"x","command":"true","workers":1e300}',
        "application/json",
        422,
        "workers",
    ),
    Bad(
        "an endless checkpoint interval",
        b'{"name":"x","command":"true","checkpoint_interval_s":1e999}',
        "application/json",
        422,
        "checkpoint_interval_s",
    ),
    Bad(
        "an inference job with too long a name for its replicas",
        b'{"name":"' + b"x" * 250 + b'","command":"true","kind":"inference","replicas":20}',
        "application/json",
        422,
        "name",
    ),
    Bad(
        "an unknown accelerator type",
        b'{"name":"x","command":"true","accelerator_types":["TPUv9"]}',
        "application/json",
        422,
        "accelerator_types",
    ),
    Bad(
        "an unknown site",
        b'{"name":"x","command":"true","sites":["mars"]}',
        "application/json",
        422,
        "sites",
    ),
    Bad(
        "an unknown field",
        b'{"name":"x","command":"true","gpus":4}',
        "application/json",
        422,
        "gpus",
    ),
    Bad("no command", b'{"name":"x"}', "application/json", 422, "command"),
    Bad(
        "an environment variable name no process can be given",
        b'{"name":"x","command":"true","env":{"A=B":"1"}}',
        "application/json",
        422,
        "env",
        "not an environment variable name",
    ),
    Bad(
        "replicas on a training job",
        b'{"name":"x","command":"true","replicas":3}',
        "application/json",
        422,
        "replicas",
        "only inference jobs have replicas",
    ),
    Bad(
        "a latency SLO on a training job",
        b'{"name":"x","command":"true","latency_slo_ms":{"SG":5}}',
        "application/json",
        422,
        "latency_slo_ms",
        "only inference jobs",
    ),
    Bad(
        # It waited for ever, "too far from every user region of the SLO".
        "an inference job no site serves within its latency SLO",
        b'{"name":"x","command":"true","kind":"inference","latency_slo_ms":{"ZZ":5}}',
        "application/json",
        422,
        "latency_slo_ms",
        "no site it accepts is within",
    ),
    Bad(
        "accelerator types for a CPU-only job",
        b'{"name":"x","command":"true","accelerators_per_worker":0,"accelerator_types":["H100"]}',
        "application/json",
        422,
        "accelerator_types",
        "CPU-only",
    ),
    Bad(
        "a NaN accelerator count",
        b'{"name":"x","command":"true","accelerators_per_worker":NaN}',
        "application/json",
        422,
        "accelerators_per_worker",
        "finite number",
    ),
    # Both were a 500 (a RecursionError in the parser), with a traceback in the server log.
    Bad(
        "JSON nested too deeply to parse",
        b'{"name":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "application/json",
        400,
        "",
        "nested too deeply",
    ),
    Bad(
        "YAML nested too deeply to parse",
        b"name: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "application/yaml",
        400,
        "",
        "nested too deeply",
    ),
    Bad(
        "an oversized body",
        b'{"name":"x","command":"' + b"a" * (2 << 20) + b'"}',
        "application/json",
        413,
        "",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=lambda c: c.name)
def test_bad_input_is_a_clear_4xx_and_nothing_is_stored(api: Api, case: Bad) -> None:
    api.add_sites()
    token = api.tenant("t1")
    got = api.client.post(
        "/v1/jobs", content=case.body, headers={**api.as_(token), "Content-Type": case.content_type}
    )
    assert got.status_code == case.want_status, got.text
    body = got.json()
    assert body["message"] and "Traceback" not in got.text
    if case.want_field:
        assert case.want_field in [p["field"] for p in body["errors"]], body
    assert case.want_reason in body["message"], body
    assert stored_jobs(api) == 0


def test_bad_site_and_tenant_bodies_name_the_field(api: Api) -> None:
    got = api.client.post(
        "/v1/sites",
        json={"name": "x", "country": "Thailand", "nodes": []},
        headers=api.admin_headers(),
    )
    assert got.status_code == 422
    fields = {p["field"] for p in got.json()["errors"]}
    assert {"country", "nodes"} <= fields
    got = api.client.post(
        "/v1/tenants",
        json={"name": "t", "country": "SG", "monthly_budget": -5},
        headers=api.admin_headers(),
    )
    assert got.status_code == 422 and got.json()["errors"][0]["field"] == "monthly_budget"


@pytest.mark.parametrize(
    ("path", "params", "want_field"),
    [
        ("/v1/jobs", {"tenant": "a\x00"}, "query.tenant"),
        ("/v1/jobs", {"name": "a\x00"}, "query.name"),
        ("/v1/tenants/a%00", {}, "(path)"),
        ("/v1/datasets/a%00", {}, "(path)"),
        ("/v1/compliance", {"tenant": "a\x00"}, "query.tenant"),
        ("/v1/usage", {"tenant": "a\x00"}, "query.tenant"),
        ("/v1/nodes", {"site": "a\x00"}, "query.site"),
        ("/v1/datasets", {"owner": "a\x00"}, "query.owner"),
    ],
)
def test_a_nul_character_in_the_url_is_a_422_never_a_500(
    api: Api, path: str, params: dict[str, str], want_field: str
) -> None:
    # PostgreSQL's text cannot hold NUL: asking it about one was a 500 (a tenant's name).
    tenant = api.tenant("t1")
    for token in (tenant, api.admin):
        got = api.client.get(path, params=params, headers=api.as_(token))
        assert got.status_code == 422, got.text
        assert got.json()["errors"][0]["field"] == want_field


def test_paging_walks_every_job_once(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    ids = {api.submit(token, name=f"j{i}", command="true").json()["id"] for i in range(7)}
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/v1/jobs", params=params, headers=api.as_(token)).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    bad = api.client.get("/v1/jobs", params={"cursor": "garbage"}, headers=api.as_(token))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def test_racing_submits_with_one_key_store_one_job(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api.add_sites()
    token = api.tenant("t1")
    headers = {**api.as_(token), "Idempotency-Key": "race"}

    def submit(_: int) -> tuple[int, int]:
        got = api.client.post("/v1/jobs", json={"name": "r", "command": "true"}, headers=headers)
        return got.status_code, got.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(submit, range(16)))
    assert {status for status, _ in results} <= {200, 201}
    assert [status for status, _ in results].count(201) == 1
    assert len({job_id for _, job_id in results}) == 1
    assert stored_jobs(api) == 1
