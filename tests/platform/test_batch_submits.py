"""Multi-job submits (`POST /v1/jobs:batch`, and `silkroute submit` of a multi-job file):
every job stored in one transaction or none, on the real server and store (SQLite and
PostgreSQL)."""

from __future__ import annotations

import concurrent.futures
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.control.batches import MAX_BATCH_JOBS
from silkroute.store.models import JobRow
from tests.platform.conftest import Api
from tests.platform.test_cli import cli
from tests.platform.test_tenant_limits import LAB, staff_token

BATCH = "/v1/jobs:batch"


def job(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "command": "true", "accelerators_per_worker": 0, **fields}


def stored(api: Api, tenant: str | None = None) -> list[str]:
    """Names of the jobs in the store (of `tenant`), in id order."""
    query = select(JobRow.name).order_by(JobRow.id)
    if tenant is not None:
        query = query.where(JobRow.tenant == tenant)
    with api.platform.store.session() as session:
        return list(session.scalars(query))


def post(api: Api, token: str, jobs: list[Any], key: str | None = None) -> Any:
    headers = api.as_(token) | ({"Idempotency-Key": key} if key else {})
    return api.client.post(BATCH, json={"jobs": jobs}, headers=headers)


def test_a_batch_is_stored_whole_and_answered_in_order(api: Api) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    serve = {"kind": "inference", "replicas": 2}
    got = post(api, token, [job("a"), job("b", **serve), job("c", workers=2)])
    assert got.status_code == 201, got.text
    answered = got.json()["jobs"]
    assert [j["name"] for j in answered] == ["a", "b/replica-0", "c"]
    assert len(answered[1]["replica_ids"]) == 2
    assert {j["tenant"] for j in answered} == {"acme"}  # the token's tenant, unnamed
    assert stored(api) == ["a", "b/replica-0", "b/replica-1", "c"]
    ids = [j["id"] for j in answered]
    assert ids == sorted(ids)
    api.wait_for(token, answered[0]["id"], ("succeeded",))  # the loop schedules them


@dataclass(frozen=True)
class Refused:
    name: str
    jobs: list[dict[str, Any]]
    status: int
    fields: list[str]  # every problem's field, in order
    tenant_fields: dict[str, Any] | None = None  # the tenant's, at creation


REFUSED = [
    Refused("a bad field of the third job", [job("a"), job("b"), job("c", workers=0)], 422,
            ["jobs[2].workers"]),
    Refused("a boolean for a number", [job("a"), job("b", workers=True)], 422,
            ["jobs[1].workers"]),
    Refused("every invalid job is named at once",
            [job("a", workers=0), job("b"), job("c", priority="urgent"), job("d", gpus=4)],
            422, ["jobs[0].workers", "jobs[2].priority", "jobs[3].gpus"]),
    Refused("a job that is not a mapping", [job("a"), "not a job"], 422, ["jobs[1]"]),
    Refused("an unknown site, found by the store's checks",
            [job("a"), job("b", sites=["atlantis"])], 422, ["jobs[1].sites"]),
    Refused("a job no site could ever run", [job("a"), job("b", workers=64, cpu_per_worker=64)],
            422, ["jobs[1]"]),
    Refused("a priority above the tenant's ceiling", [job("a"), job("b", priority="critical")],
            403, ["jobs[1].priority"]),
    Refused("another tenant's name", [job("a"), job("b", tenant="rival")], 403, []),
    Refused("a budget already spent", [job("a"), job("b")], 409, [],
            {"monthly_budget": 0}),
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_one_refused_job_refuses_the_batch_and_stores_nothing(api: Api, case: Refused) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme", **(case.tenant_fields or {}))
    api.tenant("rival")
    got = post(api, token, case.jobs)
    assert got.status_code == case.status, got.text
    body = got.json()
    assert [e["field"] for e in body["errors"]] == case.fields
    assert body["message"].startswith("jobs[")
    assert stored(api) == []
    # The same jobs without the faulty one are stored whole: it was the one at fault.
    fine = [j for j, f in zip(case.jobs, _faulty(case), strict=True) if not f]
    if case.tenant_fields is None:
        again = post(api, token, fine)
        assert again.status_code == 201, again.text
        assert stored(api) == [j["name"] for j in fine]


def _faulty(case: Refused) -> list[bool]:
    named = {f.split("]")[0] + "]" for f in case.fields}
    if not case.fields:  # another tenant's name: the job naming it
        return [isinstance(j, dict) and "tenant" in j for j in case.jobs]
    return [f"jobs[{i}]" in named for i in range(len(case.jobs))]


@dataclass(frozen=True)
class Shape:
    name: str
    body: Any
    field: str


SHAPES = [
    Shape("a job instead of a batch", job("a"), "(body)"),
    Shape("no jobs", {"jobs": []}, "jobs"),
    Shape("jobs that are not a list", {"jobs": {"name": "a"}}, "jobs"),
    Shape("a field beside jobs", {"jobs": [job("a")], "tenant": "acme"}, "tenant"),
    Shape("more jobs than a batch holds", {"jobs": [job("a")] * (MAX_BATCH_JOBS + 1)}, "jobs"),
    Shape(
        "more replicas than a batch stores",
        {"jobs": [job(f"s{n}", kind="inference", replicas=1024) for n in range(2)]},
        "jobs",
    ),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", SHAPES, ids=lambda c: c.name)
def test_a_batch_of_the_wrong_shape_or_size_is_refused_naming_the_field(
    api: Api, case: Shape
) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme", max_pending_jobs=None)
    got = api.client.post(BATCH, json=case.body, headers=api.as_(token))
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == case.field
    assert stored(api) == []


def test_a_staff_batch_is_for_one_tenant(api: Api) -> None:
    api.add_sites([LAB])
    api.tenant("acme")
    api.tenant("rival")
    operator = staff_token(api, "operator")
    mixed = [job("a", tenant="acme"), job("b", tenant="rival")]
    got = post(api, operator, mixed)
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == "jobs[1].tenant"
    assert stored(api) == []
    ours = post(api, operator, [job("a", tenant="rival"), job("b", tenant="rival")])
    assert ours.status_code == 201, ours.text
    assert stored(api, "rival") == ["a", "b"]


def test_a_tenant_cannot_submit_a_batch_for_another(api: Api) -> None:
    api.add_sites([LAB])
    acme = api.tenant("acme")
    api.tenant("rival")
    got = post(api, acme, [job("a", tenant="rival"), job("b", tenant="rival")])
    assert got.status_code == 403, got.text
    assert "jobs[0]" in got.json()["message"] and "rival" in got.json()["message"]
    assert stored(api) == []


def drained(api: Api) -> None:
    """LAB drained: jobs are accepted and stay pending (what the cap counts)."""
    got = api.client.post("/v1/sites/lab/drain", headers=api.admin_headers())
    assert got.status_code == 200, got.text


def test_the_pending_cap_counts_the_whole_batch(api: Api) -> None:
    api.add_sites([LAB])
    drained(api)
    token = api.tenant("acme", max_pending_jobs=5)
    assert post(api, token, [job("a"), job("b")]).status_code == 201
    over = post(api, token, [job(f"over-{n}") for n in range(4)])
    assert over.status_code == 429, over.text
    body = over.json()
    assert body["code"] == "too_many_pending"
    assert body["errors"][0]["field"] == "max_pending_jobs"
    assert "group of 4 jobs" in body["message"] and "at most 5" in body["message"]
    assert stored(api) == ["a", "b"]
    serve = {"kind": "inference", "replicas": 2}
    fits = post(api, token, [job("c"), job("serve", **serve)])  # 2 + 1 + 2: the cap exactly
    assert fits.status_code == 201, fits.text
    assert len(stored(api)) == 5
    assert post(api, token, [job("late")]).status_code == 429
    assert len(stored(api)) == 5


def test_concurrent_batches_never_pass_the_cap(api: Api) -> None:
    """Eight threads race batches of three under a cap of ten: whole batches only, and
    never more than the cap."""
    api.add_sites([LAB])
    drained(api)
    token = api.tenant("acme", max_pending_jobs=10)
    start = threading.Barrier(8)

    def race(worker: int) -> int:
        start.wait()
        got = post(api, token, [job(f"w{worker}-{n}") for n in range(3)])
        return int(got.status_code)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(race, range(8)))
    assert statuses.count(201) == 3, statuses  # 3 x 3 = 9 fit; a fourth would make 12
    assert statuses.count(429) == 5, statuses
    names = stored(api)
    assert len(names) == 9
    accepted = {f"w{w}" for w, status in enumerate(statuses) if status == 201}
    assert {n.split("-")[0] for n in names} == accepted


def test_a_retried_batch_is_answered_with_the_same_jobs(api: Api) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    jobs = [job("a"), job("b", kind="inference", replicas=2), job("c")]
    first = post(api, token, jobs, key="nightly-1")
    assert first.status_code == 201, first.text
    again = post(api, token, jobs, key="nightly-1")
    assert again.status_code == 200, again.text
    assert [j["id"] for j in again.json()["jobs"]] == [j["id"] for j in first.json()["jobs"]]
    assert again.json()["jobs"][1]["replica_ids"] == first.json()["jobs"][1]["replica_ids"]
    assert len(stored(api)) == 4
    # The same key is another tenant's own: it stores that tenant's jobs.
    rival = post(api, api.tenant("rival"), jobs, key="nightly-1")
    assert rival.status_code == 201, rival.text
    assert len(stored(api, "rival")) == 4


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(lambda jobs: [*jobs[:2], {**jobs[2], "workers": 2}], id="a changed job"),
        pytest.param(lambda jobs: jobs[:2], id="fewer jobs"),
        pytest.param(lambda jobs: [*jobs, job("d")], id="more jobs"),
        pytest.param(lambda jobs: [jobs[1], jobs[0], jobs[2]], id="the same jobs reordered"),
        pytest.param(lambda jobs: jobs[:1], id="only the first job"),
    ],
)
def test_a_reused_key_with_other_jobs_is_refused(api: Api, changed: Any) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    jobs = [job("a"), job("b"), job("c")]
    assert post(api, token, jobs, key="k").status_code == 201
    got = post(api, token, changed(jobs), key="k")
    assert got.status_code == 422, got.text
    assert got.json()["code"] == "idempotency_mismatch"
    assert got.json()["errors"][0]["field"] == "Idempotency-Key"
    assert stored(api) == ["a", "b", "c"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_batch_key_used_by_a_single_submit_is_refused(api: Api) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    single = api.client.post(
        "/v1/jobs", json=job("a"), headers=api.as_(token) | {"Idempotency-Key": "k"}
    )
    assert single.status_code == 201, single.text
    got = post(api, token, [job("a"), job("b")], key="k")
    assert got.status_code == 422, got.text
    assert stored(api) == ["a"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_single_submit_reusing_a_batchs_key_is_refused_even_with_its_first_job(api: Api) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    assert post(api, token, [job("a"), job("b")], key="k").status_code == 201
    single = api.client.post(
        "/v1/jobs", json=job("a"), headers=api.as_(token) | {"Idempotency-Key": "k"}
    )
    assert single.status_code == 422, single.text
    assert single.json()["code"] == "idempotency_mismatch"
    assert stored(api) == ["a", "b"]
    # A batch of one job is that job's submit: its retry as a single submit is a retry.
    assert post(api, token, [job("c")], key="one").status_code == 201
    again = api.client.post(
        "/v1/jobs", json=job("c"), headers=api.as_(token) | {"Idempotency-Key": "one"}
    )
    assert again.status_code == 200, again.text
    assert stored(api) == ["a", "b", "c"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_yaml_batch_is_read_as_json_is(api: Api) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    body = "jobs:\n  - {name: a, command: 'true', accelerators_per_worker: 0}\n"
    body += "  - {name: b, command: 'true', accelerators_per_worker: 0, workers: yes}\n"
    headers = api.as_(token) | {"Content-Type": "application/yaml"}
    got = api.client.post(BATCH, content=body, headers=headers)
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == "jobs[1].workers"
    fixed = body.replace("workers: yes", "workers: 1")
    assert api.client.post(BATCH, content=fixed, headers=headers).status_code == 201
    assert stored(api) == ["a", "b"]


# ----- the CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_submits_a_multi_job_file_all_or_none(
    api: Api, server_url: str, tmp_path: Path
) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "jobs:\n"
        "  - {name: a, command: 'true', accelerators_per_worker: 0}\n"
        "  - {name: b, command: 'true', accelerators_per_worker: 0}\n"
        "  - {name: c, command: 'true', accelerators_per_worker: 0, sites: [atlantis]}\n"
    )
    code, out = cli(server_url, token, "submit", str(bad))
    assert code == 2, out
    assert "jobs[2].sites" in out and "no job of" in out
    assert stored(api) == []
    good = tmp_path / "good.yaml"
    good.write_text(bad.read_text().replace(", sites: [atlantis]", ""))
    code, out = cli(server_url, token, "submit", str(good), "--idempotency-key", "run-7")
    assert code == 0, out
    assert [line.split()[2] for line in out.splitlines()] == ["(a)", "(b)", "(c)"]
    code, again = cli(server_url, token, "submit", str(good), "--idempotency-key", "run-7")
    assert code == 0, again

    def ids(text: str) -> list[str]:
        return [line.split()[1] for line in text.splitlines()]

    assert ids(again) == ids(out)  # a retry: the same jobs, nothing doubled
    assert stored(api) == ["a", "b", "c"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_refuses_a_yaml_boolean_for_a_number(
    api: Api, server_url: str, tmp_path: Path
) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme")
    one = tmp_path / "one.yaml"
    one.write_text("name: a\ncommand: 'true'\naccelerators_per_worker: 0\nworkers: yes\n")
    code, out = cli(server_url, token, "submit", str(one))
    assert code == 2 and "workers: must be a number, not a boolean" in out, out
    code, out = cli(server_url, token, "validate", str(one))
    assert code != 0 and "workers" in out and "boolean" in out, out
    assert stored(api) == []
