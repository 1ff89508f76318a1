"""Nodes come and go over the API: more nodes for a registered site (a new rack), and a
removed node brought back (repaired) once its old runs are known to be gone. Real server,
store (SQLite and PostgreSQL), live loop and local back end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from silkroute.api.app import create_app
from silkroute.control.boot import init_admin, open_platform
from silkroute.store.models import AuditRecordRow
from tests.agent.test_agent_api import agent_token, assignments
from tests.agent.test_inventory import SITE, beat, good, node, nodes_view, site, wait_assignment
from tests.platform.conftest import WAIT_S, Api
from tests.platform.test_cli import cli

H100_NODE = {"accelerator": "H100", "accelerators": 8, "cpu": 112, "memory_gib": 2048}
# Two whole 8-GPU H100 nodes at one site: the demo federation has one such node.
TWO_H100_NODES = {"workers": 2, "accelerators_per_worker": 8, "accelerator_types": ["H100"]}


def operator_token(api: Api) -> str:
    got = api.client.post("/v1/tokens", json={"role": "operator"}, headers=api.admin_headers())
    assert got.status_code == 201, got.text
    token: str = got.json()["token"]
    return token


def audit_details(api: Api, site: str) -> list[dict[str, Any]]:
    with api.platform.store.session() as session:
        rows = session.execute(
            select(AuditRecordRow.actor, AuditRecordRow.detail)
            .where(AuditRecordRow.subject == f"site/{site}")
            .order_by(AuditRecordRow.seq)
        ).all()
    return [{"actor": actor, **json.loads(detail)} for actor, detail in rows]


def node_states(api: Api, site: str) -> dict[str, str]:
    got = api.client.get("/v1/nodes", params={"site": site}, headers=api.admin_headers())
    assert got.status_code == 200, got.text
    return {n["node"]: n["state"] for n in got.json()}


def sites(api: Api) -> Any:
    got = api.client.get("/v1/sites", headers=api.admin_headers())
    assert got.status_code == 200, got.text
    return got.json()


# ----- adding nodes ----------------------------------------------------------------------------
def test_nodes_added_to_a_site_run_a_job_that_only_they_fit(api: Api) -> None:
    api.add_sites()
    tenant = api.tenant("t1")
    refused = api.submit(tenant, command="true", **TWO_H100_NODES)
    assert refused.status_code == 422, refused.text  # could never run: one H100 node in all
    operator = operator_token(api)
    body = {"nodes": [{"count": 2, **H100_NODE}]}
    got = api.client.post("/v1/sites/jakarta/nodes", json=body, headers=api.as_(operator))
    assert got.status_code == 201, got.text
    added = [
        (n["node"], n["accelerator"], n["accelerators"], n["state"]) for n in got.json()["nodes"]
    ]
    # Named after the site's two L40S nodes: no node, removed or not, changes its name.
    assert added == [
        ("jakarta-h100-00002", "H100", 8, "active"),
        ("jakarta-h100-00003", "H100", 8, "active"),
    ]
    assert list(node_states(api, "jakarta")) == [
        "jakarta-l40s-00000",
        "jakarta-l40s-00001",
        "jakarta-h100-00002",
        "jakarta-h100-00003",
    ]
    jakarta = next(s for s in sites(api) if s["name"] == "jakarta")
    assert [g["count"] for g in jakarta["spec"]["nodes"]] == [2, 2]
    accepted = api.submit(tenant, command="echo $SILKROUTE_SITE", **TWO_H100_NODES)
    assert accepted.status_code == 201, accepted.text
    done = api.wait_for(tenant, accepted.json()["id"], ("succeeded", "failed"))
    assert done["state"] == "succeeded" and done["site"] == "jakarta", done
    assert sorted(done["runs"][0]["nodes"]) == ["jakarta-h100-00002", "jakarta-h100-00003"]
    record = audit_details(api, "jakarta")[-1]
    assert record["action"] == "node add" and record["actor"].startswith("operator")
    assert (record["count"], record["first"], record["last"]) == (
        2,
        "jakarta-h100-00002",
        "jakarta-h100-00003",
    )
    assert record["groups"][0]["accelerator"] == "H100"


@dataclass(frozen=True)
class BadNodes:
    name: str
    site: str
    body: str  # JSON text: some cases are not what a JSON encoder would write
    want_status: int
    want_field: str | None
    want_reason: str
    as_tenant: bool = False


BAD_NODES = [
    BadNodes(
        "a group of more nodes than a group may have",
        "jakarta",
        '{"nodes": [{"count": 100001}]}',
        422,
        "nodes[0].count",
        "less than or equal to 100000",
    ),
    BadNodes(
        "more nodes than a site may have, counting those it has",
        "jakarta",
        '{"nodes": [{"count": 99999}]}',
        422,
        "nodes",
        "100001 nodes (2 declared before, removed ones included); a site has at most 100000",
    ),
    BadNodes(
        "a name another site's node has",
        "bangkok",
        '{"nodes": [{"count": 1, "name_prefix": "jakarta-l40s"}]}',
        422,
        "nodes[0].name_prefix",
        "node jakarta-l40s-00001 exists at site jakarta",
    ),
    BadNodes(
        "a second group whose name another site's node has",
        "bangkok",
        '{"nodes": [{"count": 1}, {"count": 1, "name_prefix": "nanning-h20"}]}',
        422,
        "nodes[1].name_prefix",
        "node nanning-h20-00002 exists at site nanning",
    ),
    BadNodes(
        "more accelerators per node than a node holds",
        "jakarta",
        '{"nodes": [{"count": 1, "accelerator": "H100", "accelerators": 65}]}',
        422,
        "nodes[0].accelerators",
        "less than or equal to 64",
    ),
    BadNodes(
        "accelerators without their type",
        "jakarta",
        '{"nodes": [{"count": 1, "accelerators": 8}]}',
        422,
        "nodes[0].accelerators",
        "name their type",
    ),
    BadNodes(
        "an infinite CPU count",
        "jakarta",
        '{"nodes": [{"count": 1, "cpu": 1e999}]}',
        422,
        "nodes[0].cpu",
        "finite number",
    ),
    BadNodes(
        "a field node groups do not have",
        "jakarta",
        '{"nodes": [{"count": 1, "gpus": 8}]}',
        422,
        "nodes[0].gpus",
        "Extra inputs",
    ),
    BadNodes("no group at all", "jakarta", '{"nodes": []}', 422, "nodes", "at least 1"),
    BadNodes(
        "a NUL character in a name prefix",
        "jakarta",
        '{"nodes": [{"count": 1, "name_prefix": "a\\u0000b"}]}',
        422,
        "nodes[0].name_prefix",
        "NUL",
    ),
    BadNodes(
        "a site that is not registered",
        "atlantis",
        '{"nodes": [{"count": 1}]}',
        404,
        None,
        "no such site",
    ),
    BadNodes(
        "a tenant's token",
        "jakarta",
        '{"nodes": [{"count": 1}]}',
        403,
        None,
        "needs the admin or operator role",
        as_tenant=True,
    ),
]


@pytest.mark.parametrize("case", BAD_NODES, ids=lambda c: c.name)
def test_bad_node_groups_are_refused_naming_the_field_and_nothing_is_stored(
    api: Api, case: BadNodes
) -> None:
    api.add_sites()
    headers = api.as_(api.tenant("t1")) if case.as_tenant else api.admin_headers()
    before = (sites(api), node_states(api, "jakarta"), node_states(api, "bangkok"))
    records = len(audit_details(api, case.site))
    got = api.client.post(
        f"/v1/sites/{case.site}/nodes",
        content=case.body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert got.status_code == case.want_status, got.text
    error = got.json()
    assert case.want_reason in error["message"] and "\n" not in error["message"], error
    if case.want_field is not None:
        assert error["errors"][0]["field"] == case.want_field, error
        assert error["message"].startswith(f"{case.want_field}: "), error
    assert (sites(api), node_states(api, "jakarta"), node_states(api, "bangkok")) == before
    assert len(audit_details(api, case.site)) == records


@pytest.mark.parametrize(
    ("group", "field", "reason"),
    [
        pytest.param(
            {"count": 100_001}, "nodes[0].count", "less than or equal to 100000",
            id="a group of more nodes than a group may have",
        ),
        pytest.param(
            {"count": 1, "name_prefix": "jakarta-l40s"}, "nodes[0].name_prefix",
            "node jakarta-l40s-00000 exists at site jakarta",
            id="a name another site's node has",
        ),
    ],
)  # fmt: skip
def test_site_add_refuses_the_same_node_groups(
    api: Api, group: dict[str, Any], field: str, reason: str
) -> None:
    api.add_sites()
    before = sites(api)
    body = {"name": "penang", "country": "MY", "nodes": [group]}
    got = api.client.post("/v1/sites", json=body, headers=api.admin_headers())
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == field and reason in got.json()["message"]
    assert sites(api) == before


def test_nodes_added_are_declared_to_the_sites_engine_inventory(api: Api) -> None:
    api.add_sites([site(nodes=1)])
    token = agent_token(api, SITE)
    engine = good(node("n1"), node("n2"), node("n3"))
    assert beat(api, token, engine).status_code == 200
    agents = api.client.get("/v1/agents", headers=api.admin_headers()).json()
    assert agents[0]["engine"]["undeclared"] == ["n2", "n3"]
    tenant = api.tenant("t1")
    two_nodes = {"workers": 2, "accelerators_per_worker": 2, "accelerator_types": ["A100"]}
    assert api.submit(tenant, command="true", **two_nodes).status_code == 422
    group = {"count": 1, "accelerator": "A100", "accelerators": 2, "cpu": 8}
    got = api.client.post(
        f"/v1/sites/{SITE}/nodes", json={"nodes": [group]}, headers=api.admin_headers()
    )
    assert got.status_code == 201, got.text
    added = f"{SITE}-a100-00001"
    assert [n["node"] for n in got.json()["nodes"]] == [added]
    agents = api.client.get("/v1/agents", headers=api.admin_headers()).json()
    assert agents[0]["engine"]["undeclared"] == ["n3"]
    assert agents[0]["engine"]["drained"] == {}
    view = nodes_view(api)
    assert (view[added]["state"], view[added]["engine_node"]) == ("active", "n2")
    job = api.submit(tenant, command="true", **two_nodes)
    assert job.status_code == 201, job.text
    assert wait_assignment(api, token, engine, WAIT_S), "the added node took no work"
    placed = {worker for worker, _ in assignments(api, token)[0]["workers"]}
    assert placed == {f"{SITE}-a100-00000", added}


# ----- restoring removed nodes -----------------------------------------------------------------
def test_a_removed_node_restored_takes_work_again(api: Api) -> None:
    api.add_sites()
    tenant = api.tenant("t1")
    admin = api.admin_headers()
    assert api.client.post("/v1/sites/singapore/remove", headers=admin).status_code == 200
    refused = api.submit(tenant, command="true", accelerator_types=["H100"])
    assert refused.status_code == 422, refused.text  # only a removed node has H100s
    undrained = api.client.post("/v1/sites/singapore/undrain", headers=admin)
    assert undrained.status_code == 409 and "restore" in undrained.json()["message"]
    operator = api.as_(operator_token(api))
    got = api.client.post("/v1/sites/singapore/restore", headers=operator)
    assert got.status_code == 200, got.text
    restored = [(n["node"], n["state"]) for n in got.json()["nodes"]]
    assert restored == [("singapore-h100-00000", "active")]
    assert node_states(api, "singapore") == {"singapore-h100-00000": "active"}
    job = api.submit(tenant, command="true", accelerator_types=["H100"])
    assert job.status_code == 201, job.text
    assert api.wait_for(tenant, job.json()["id"], ("succeeded",))["site"] == "singapore"
    again = api.client.post("/v1/sites/singapore/restore", headers=operator)
    assert (again.status_code, again.json()["nodes"]) == (200, [])  # nothing removed: no-op
    drained = {"nodes": ["singapore-h100-00000"]}
    assert api.client.post("/v1/sites/singapore/drain", json=drained, headers=operator).is_success
    kept = api.client.post("/v1/sites/singapore/restore", json=drained, headers=operator)
    assert kept.status_code == 200 and kept.json()["nodes"][0]["state"] == "drained"
    unknown = {"nodes": ["singapore-h100-00009"]}
    bad = api.client.post("/v1/sites/singapore/restore", json=unknown, headers=operator)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "nodes[0]"
    actions = [(r["action"], r["nodes"]) for r in audit_details(api, "singapore")[1:]]
    assert actions == [
        ("node remove", ["singapore-h100-00000"]),
        ("node restore", ["singapore-h100-00000"]),
        ("node restore", []),
        ("node drain", ["singapore-h100-00000"]),
        ("node restore", []),  # the drained node was left as it was
    ]


@pytest.fixture
def patient(tmp_path: Path, db_url: str | None) -> Iterator[Api]:
    """A platform whose agents wait 30 s between SIGTERM and SIGKILL: a stopping run stays
    stopping as long as the test keeps it (it exits when told), not a fixed few seconds."""
    platform = open_platform(tmp_path / "data", db_url, tick_s=0.05, grace_s=30.0)
    admin = init_admin(platform)
    assert admin is not None
    with TestClient(create_app(platform), raise_server_exceptions=False) as client:
        yield Api(client, platform, admin, tmp_path / "data")
    platform.store.close()


def test_a_removed_node_is_not_restored_while_its_old_run_may_still_run(
    patient: Api, tmp_path: Path
) -> None:
    api = patient
    api.add_sites()
    tenant = api.tenant("t1")
    release = tmp_path / "release"
    # The first attempt, told to stop, winds down only once the test lets it.
    command = (
        'if [ "$SILKROUTE_ATTEMPT" = 1 ]; then '
        f"trap 'while [ ! -e {release} ]; do sleep 0.05; done; exit 0' TERM; echo ready; "
        "while true; do sleep 0.05; done; fi"
    )
    one_node = {"accelerator_types": ["L40S"], "accelerators_per_worker": 4}
    job_id = api.submit(tenant, command=command, **one_node).json()["id"]
    job = api.wait_for(tenant, job_id, ("running",))
    api.wait_for_output(tenant, job_id, "ready")  # its trap is set
    run_id, node_name = job["runs"][0]["run_id"], job["runs"][0]["nodes"][0]
    body = {"nodes": [node_name]}
    admin = api.admin_headers()
    removed = api.client.post("/v1/sites/jakarta/remove", json=body, headers=admin)
    assert removed.status_code == 200 and removed.json()["requeued_jobs"] == [job_id]
    fenced = api.wait_for(tenant, job_id, ("terminating",))
    assert fenced["hold_reason"] == "fenced", fenced
    records = len(audit_details(api, "jakarta"))
    refused = api.client.post("/v1/sites/jakarta/restore", json=body, headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "fenced"
    message = refused.json()["message"]
    assert f"node {node_name}: run {run_id} of job {job_id}" in message, message
    assert "not yet confirmed stopped" in message, message
    assert node_states(api, "jakarta")[node_name] == "removed"
    assert len(audit_details(api, "jakarta")) == records  # a refusal changes nothing
    release.touch()
    done = api.wait_for(tenant, job_id, ("succeeded", "failed"), timeout=30)
    assert done["state"] == "succeeded", done
    assert done["runs"][1]["nodes"][0] != node_name
    restored = api.client.post("/v1/sites/jakarta/restore", json=body, headers=admin)
    assert restored.status_code == 200, restored.text
    assert [n["state"] for n in restored.json()["nodes"]] == ["active"]
    # Both L40S nodes in one job: it runs only if the restored node takes work.
    both = api.submit(tenant, command="true", workers=2, **one_node)
    assert both.status_code == 201, both.text
    second = api.wait_for(tenant, both.json()["id"], ("succeeded", "failed"))
    assert second["state"] == "succeeded", second
    assert node_name in second["runs"][0]["nodes"]
    actions = [r["action"] for r in audit_details(api, "jakarta")]
    assert actions[-2:] == ["node remove", "node restore"]


def test_added_and_restored_nodes_survive_a_restart(api: Api, db_url: str | None) -> None:
    api.add_sites()
    admin = api.admin_headers()
    body = {"nodes": [{"count": 2, **H100_NODE}]}
    assert api.client.post("/v1/sites/hanoi/nodes", json=body, headers=admin).status_code == 201
    assert api.client.post("/v1/sites/bangkok/remove", headers=admin).status_code == 200
    assert api.client.post("/v1/sites/bangkok/restore", headers=admin).status_code == 200
    api.client.__exit__(None, None, None)  # stop the server (its loop) like a shutdown
    platform = open_platform(api.data_dir, db_url, tick_s=0.05, grace_s=3.0)
    try:
        with TestClient(create_app(platform), raise_server_exceptions=False) as client:
            restarted = Api(client, platform, api.admin, api.data_dir)
            assert node_states(restarted, "hanoi") == {
                "hanoi-a800-00000": "active",
                "hanoi-h100-00001": "active",
                "hanoi-h100-00002": "active",
            }
            assert node_states(restarted, "bangkok") == {"bangkok-a100-00000": "active"}
            tenant = restarted.tenant("t1")
            job = restarted.submit(tenant, command="true", **TWO_H100_NODES)
            assert job.status_code == 201, job.text
            done = restarted.wait_for(tenant, job.json()["id"], ("succeeded", "failed"))
            assert (done["state"], done["site"]) == ("succeeded", "hanoi"), done
    finally:
        platform.store.close()


# ----- the CLI ---------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_operators_add_and_restore_nodes_from_the_cli(
    api: Api, server_url: str, tmp_path: Path
) -> None:
    api.add_sites()
    operator = operator_token(api)
    code, out = cli(
        server_url, operator, "node", "add", "bangkok", "--count", "1",
        "--accelerator", "A100", "--accelerators", "8",
    )  # fmt: skip
    assert code == 0 and "1 node(s) added to bangkok: bangkok-a100-00001" in out, out
    racks = tmp_path / "racks.yaml"
    racks.write_text(
        "nodes:\n"
        "  - {count: 2, accelerator: H100, accelerators: 8, cpu: 112, memory_gib: 2048}\n"
        "  - {count: 1}\n"
    )
    code, out = cli(server_url, operator, "node", "add", "bangkok", str(racks))
    assert code == 0, out
    assert "3 node(s) added to bangkok: bangkok-h100-00002, bangkok-h100-00003" in out, out
    assert "bangkok-cpu-00004" in out, out
    code, out = cli(server_url, operator, "node", "list", "--site", "bangkok", "--json")
    assert code == 0 and len(json.loads(out)) == 5, out
    for args, want in [
        ([str(racks), "--count", "1"], "give FILE or --count"),
        ([], "give FILE or --count"),
        (["--count", "1", "--cpu", "nan"], "--cpu: must be a finite number"),
        (["--count", "0"], "nodes[0].count"),
    ]:
        code, out = cli(server_url, operator, "node", "add", "bangkok", *args)
        assert code == 2 and want in out, (args, out)
    code, out = cli(
        server_url, operator, "node", "remove", "bangkok", "--node", "bangkok-cpu-00004"
    )
    assert code == 0, out
    code, out = cli(server_url, operator, "node", "restore", "bangkok")
    assert code == 0 and "restore: bangkok-cpu-00004" in out, out
    code, out = cli(server_url, api.tenant("t1"), "node", "restore", "bangkok")
    assert code == 2 and "HTTP 403" in out, out
    code, out = cli(server_url, operator, "node", "list", "--site", "bangkok", "--json")
    assert {n["state"] for n in json.loads(out)} == {"active"}
