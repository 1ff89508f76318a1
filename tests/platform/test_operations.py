"""Operators' work on a live platform: revoking tokens, draining and removing nodes (kept
across a restart), and inference replicas that really run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from silkroute.api.app import create_app
from silkroute.control.boot import open_platform
from tests.platform.conftest import WAIT_S, Api


def tokens(api: Api, token: str) -> list[dict[str, Any]]:
    got = api.client.get("/v1/tokens", headers=api.as_(token))
    assert got.status_code == 200, got.text
    listed: list[dict[str, Any]] = got.json()
    return listed


# ----- tokens ----------------------------------------------------------------------------------
def test_a_revoked_token_is_refused_at_once_even_though_it_was_cached(api: Api) -> None:
    token = api.tenant("t1")
    headers = api.as_(token)
    assert api.client.get("/v1/jobs", headers=headers).status_code == 200  # now cached
    mine = tokens(api, token)
    assert [(t["role"], t["tenant"], t["revoked_at"]) for t in mine] == [("tenant", "t1", None)]
    assert "token_hash" not in mine[0] and token not in str(mine)
    got = api.client.delete(f"/v1/tokens/{mine[0]['id']}", headers=api.admin_headers())
    assert got.status_code == 200, got.text
    assert got.json()["revoked_at"] is not None
    refused = api.client.get("/v1/jobs", headers=headers)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorised"
    refused = api.client.post("/v1/jobs", json={"name": "x", "command": "true"}, headers=headers)
    assert refused.status_code == 401  # the submit lane checks the same cache
    again = api.client.delete(f"/v1/tokens/{mine[0]['id']}", headers=api.admin_headers())
    assert again.status_code == 409


def test_a_tenant_rotates_its_token_and_sees_only_its_own(api: Api) -> None:
    old = api.tenant("t1")
    api.tenant("t2")
    issued = api.client.post("/v1/tokens", json={"label": "ci"}, headers=api.as_(old))
    assert issued.status_code == 201, issued.text
    new = issued.json()["token"]
    assert issued.json()["record"]["tenant"] == "t1"
    listed = tokens(api, new)
    assert [t["tenant"] for t in listed] == ["t1", "t1"]
    old_id = next(t["id"] for t in listed if t["label"] != "ci")
    assert api.client.delete(f"/v1/tokens/{old_id}", headers=api.as_(new)).status_code == 200
    assert api.client.get("/v1/jobs", headers=api.as_(old)).status_code == 401
    assert api.client.get("/v1/jobs", headers=api.as_(new)).status_code == 200
    everyone = tokens(api, api.admin)
    assert sorted(t["tenant"] or "-" for t in everyone) == ["-", "t1", "t1", "t2"]


# ----- nodes -----------------------------------------------------------------------------------
def node_states(api: Api, site: str) -> dict[str, str]:
    got = api.client.get("/v1/nodes", params={"site": site}, headers=api.admin_headers())
    assert got.status_code == 200, got.text
    return {n["node"]: n["state"] for n in got.json()}


def test_a_drained_node_finishes_its_running_job_and_starts_nothing_new(
    api: Api, tmp_path: Path
) -> None:
    api.add_sites()
    token = api.tenant("t1")
    marker = tmp_path / "go"
    # Runs until the test lets it finish, so the drain surely happens while it runs.
    command = f"while [ ! -e {marker} ]; do sleep 0.05; done; echo done"
    running = api.submit(
        token, command=command, accelerator_types=["H100"], accelerators_per_worker=4
    ).json()["id"]
    api.wait_for(token, running, ("running",))
    got = api.client.post("/v1/sites/singapore/drain", headers=api.admin_headers())
    assert got.status_code == 200, got.text
    assert [n["state"] for n in got.json()["nodes"]] == ["drained"]
    assert node_states(api, "singapore") == {"singapore-h100-00000": "drained"}
    # Room for it on the drained node (4 of 8 free), nowhere else: it waits.
    waiting = api.submit(token, command="true", accelerator_types=["H100"]).json()["id"]
    api.settle()
    assert api.job(token, waiting)["state"] == "pending"
    marker.touch()
    finished = api.wait_for(token, running, ("succeeded", "failed", "cancelled"))
    assert finished["state"] == "succeeded"
    api.settle()  # the node is empty now, and still drained
    assert api.job(token, waiting)["state"] == "pending"
    assert api.job(token, waiting)["runs"] == []
    undrained = api.client.post("/v1/sites/singapore/undrain", headers=api.admin_headers())
    assert undrained.status_code == 200, undrained.text
    assert api.wait_for(token, waiting, ("succeeded",))["site"] == "singapore"


def test_removing_a_node_requeues_its_running_job_which_runs_again_on_another(
    api: Api,
) -> None:
    api.add_sites()
    token = api.tenant("t1")
    # First attempt waits to be stopped; a later attempt finishes at once.
    command = (
        'if [ "$SILKROUTE_ATTEMPT" = 1 ]; then trap "exit 0" TERM; echo ready; '
        "while true; do sleep 0.05; done; fi; echo second"
    )
    job_id = api.submit(
        token, command=command, accelerator_types=["L40S"], accelerators_per_worker=4
    ).json()["id"]
    job = api.wait_for(token, job_id, ("running",))
    # Stopped only once its trap is set: the local runner reports a rank running from its own
    # start, and a SIGTERM that comes before the shell exists is lost (it runs on to SIGKILL).
    api.wait_for_output(token, job_id, "ready")
    first_node = job["runs"][0]["nodes"][0]
    body = {"nodes": [first_node]}
    got = api.client.post("/v1/sites/jakarta/remove", json=body, headers=api.admin_headers())
    assert got.status_code == 200, got.text
    assert got.json()["requeued_jobs"] == [job_id]
    done = api.wait_for(token, job_id, ("succeeded", "failed"), timeout=30)
    assert done["state"] == "succeeded", done
    assert [r["attempt"] for r in done["runs"]] == [1, 2]
    assert done["runs"][1]["nodes"][0] != first_node
    assert "node-removed" in [e["reason"] for e in done["events"]]
    assert node_states(api, "jakarta")[first_node] == "removed"
    # The first run was stopped by its agent (SIGTERM: it exits 0) before the second began.
    exit_file = api.data_dir / "runs" / f"job{job_id}-a1" / "exit-0"
    deadline = time.monotonic() + WAIT_S
    while not exit_file.exists():
        assert time.monotonic() < deadline, "the removed node's run was never stopped"
        time.sleep(0.1)
    again = api.client.post("/v1/sites/jakarta/undrain", json=body, headers=api.admin_headers())
    assert again.status_code == 409  # a removed node does not come back
    unknown = {"nodes": ["jakarta-l40s-09999"]}
    bad = api.client.post("/v1/sites/jakarta/drain", json=unknown, headers=api.admin_headers())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "nodes[0]"


def test_drains_and_removals_survive_a_restart(api: Api, db_url: str | None) -> None:
    api.add_sites()
    token = api.tenant("t1")
    admin = api.admin_headers()
    assert api.client.post("/v1/sites/singapore/drain", headers=admin).status_code == 200
    assert api.client.post("/v1/sites/bangkok/remove", headers=admin).status_code == 200
    # Only a removed site has A100s: such a job could never run now, so it is refused.
    refused = api.submit(token, command="true", accelerator_types=["A100"])
    assert refused.status_code == 422, refused.text
    api.client.__exit__(None, None, None)  # stop the server (its loop) like a shutdown
    platform = open_platform(api.data_dir, db_url, tick_s=0.05, grace_s=3.0)
    try:
        with TestClient(create_app(platform), raise_server_exceptions=False) as client:
            restarted = Api(client, platform, api.admin, api.data_dir)
            assert node_states(restarted, "singapore") == {"singapore-h100-00000": "drained"}
            assert set(node_states(restarted, "bangkok").values()) == {"removed"}
            waiting = restarted.submit(token, command="true", accelerator_types=["H100"])
            assert waiting.status_code == 201, waiting.text
            restarted.settle()
            job = restarted.job(token, waiting.json()["id"])
            assert job["state"] == "pending" and job["runs"] == []
    finally:
        platform.store.close()


# ----- inference replicas ----------------------------------------------------------------------
def test_inference_replicas_run_as_independent_jobs(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    command = 'echo "replica $SILKROUTE_REPLICA of $SILKROUTE_REPLICAS rank $SILKROUTE_RANK"'
    got = api.submit(
        token,
        name="serve",
        kind="inference",
        replicas=2,
        command=command,
        accelerator_types=["L40S"],
        accelerators_per_worker=4,
    )
    assert got.status_code == 201, got.text
    ids = got.json()["replica_ids"]
    assert len(ids) == 2 and got.json()["id"] == ids[0]
    outputs, nodes = [], []
    for k, job_id in enumerate(ids):
        job = api.wait_for(token, job_id, ("succeeded", "failed"))
        assert job["state"] == "succeeded" and job["name"] == f"serve/replica-{k}"
        nodes.append(job["runs"][0]["nodes"][0])
        logs = api.client.get(f"/v1/jobs/{job_id}/logs", headers=api.as_(token)).json()
        outputs.append(logs["text"].strip())
    assert outputs == ["replica 0 of 2 rank 0", "replica 1 of 2 rank 0"]
    # Each replica holds its own resources: 4 + 4 L40S on Jakarta's two 4-GPU nodes.
    assert sorted(nodes) == ["jakarta-l40s-00000", "jakarta-l40s-00001"]
    serve = {
        "name": "serve2",
        "kind": "inference",
        "replicas": 3,
        "command": "true",
        "accelerators_per_worker": 0,
    }
    keyed = {**api.as_(token), "Idempotency-Key": "k1"}
    retried = api.client.post("/v1/jobs", json=serve, headers=keyed)
    again = api.client.post("/v1/jobs", json=serve, headers=keyed)
    assert retried.status_code == 201 and again.status_code == 200
    assert again.json()["replica_ids"] == retried.json()["replica_ids"]
    assert len(set(retried.json()["replica_ids"])) == 3


def test_removing_a_site_keeps_the_data_law_where_it_was(api: Api) -> None:
    """Removal renumbers the scheduler's pools; verdicts kept per pool must not move with
    them (here: Hanoi's 'allowed' would land on Jakarta's pool)."""
    api.add_sites()
    acme = api.tenant("acme")
    dataset = {"name": "vn-health", "origin": "VN", "data_class": "personal", "sites": ["hanoi"]}
    assert api.client.post("/v1/datasets", json=dataset, headers=api.as_(acme)).status_code == 201
    blocker = api.submit(
        acme, command="sleep 30", accelerator_types=["A800"], accelerators_per_worker=8
    ).json()["id"]
    api.wait_for(acme, blocker, ("running",))
    # Lawful only at Hanoi (full now); Jakarta's L40S is free but refused by the data law.
    held = api.submit(
        acme, command="true", datasets=["vn-health"], accelerator_types=["A800", "L40S"]
    ).json()["id"]
    api.settle()
    assert api.job(acme, held)["state"] == "pending"
    assert (
        api.client.post("/v1/sites/bangkok/remove", headers=api.admin_headers()).status_code == 200
    )
    api.settle(20)
    job = api.job(acme, held)
    assert job["state"] == "pending" and job["runs"] == [], job
    api.client.delete(f"/v1/jobs/{blocker}", headers=api.as_(acme))
    assert api.wait_for(acme, held, ("succeeded",))["site"] == "hanoi"


def test_a_fresh_platform_without_sites_lists_no_nodes_and_its_loop_runs(api: Api) -> None:
    # The state a new deployment is in between `admin init` and `site add`: listing nodes
    # answered 500 and the loop's first pass failed with a traceback.
    got = api.client.get("/v1/nodes", headers=api.admin_headers())
    assert (got.status_code, got.json()) == (200, [])
    api.platform.loop.inventory_changed()
    api.platform.loop.run_once()  # raises if a step of the pass fails
    api.add_sites()
    nodes = api.client.get("/v1/nodes", headers=api.admin_headers()).json()
    assert nodes and {n["state"] for n in nodes} == {"active"}
