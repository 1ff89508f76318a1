"""A removed node comes back as it was before its removal: drained if an operator drained it
first (the drain had a reason), else active. Real server, store (SQLite and PostgreSQL), live
loop and local back end; the CLI says so; migration 0008 keeps older rows as they were."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.platform.conftest import Api
from tests.platform.migrations import columns, execute, one_row, run
from tests.platform.test_cli import cli
from tests.platform.test_node_lifecycle import audit_details, node_states, operator_token

LAB = {
    "name": "lab",
    "country": "SG",
    "nodes": [{"count": 1, "accelerator": "A800", "accelerators": 2, "cpu": 16}],
}
NODE = "lab-a800-00000"
ONE_A800 = {"accelerator_types": ["A800"], "accelerators_per_worker": 1}


@dataclass(frozen=True)
class RestoreCase:
    name: str
    before: list[str]  # node actions before the restore (on the lab's one node)
    state: str  # the node's state after its restore
    kept_drained: bool


CASES = [
    RestoreCase(
        "a drained node that was removed comes back drained", ["drain", "remove"], "drained", True
    ),
    RestoreCase("an active node that was removed comes back active", ["remove"], "active", False),
    RestoreCase(
        "a node drained, undrained, then removed comes back active",
        ["drain", "undrain", "remove"],
        "active",
        False,
    ),
    RestoreCase(
        "a drained node removed twice comes back drained",
        ["drain", "remove", "remove"],
        "drained",
        True,
    ),
]


def act(api: Api, token: str, action: str) -> Any:
    got = api.client.post(f"/v1/sites/lab/{action}", json={"nodes": [NODE]}, headers=api.as_(token))
    assert got.status_code == 200, got.text
    return got.json()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_restored_node_comes_back_as_it_was_before_its_removal(
    api: Api, case: RestoreCase
) -> None:
    api.add_sites([LAB])
    operator = operator_token(api)
    drained_at = time.time()
    for action in case.before:
        act(api, operator, action)
    assert node_states(api, "lab") == {NODE: "removed"}
    restored = act(api, operator, "restore")
    assert [(n["node"], n["state"]) for n in restored["nodes"]] == [(NODE, case.state)]
    assert node_states(api, "lab") == {NODE: case.state}
    record = audit_details(api, "lab")[-1]
    assert record["action"] == "node restore" and record["nodes"] == [NODE]
    if case.kept_drained:
        (kept,) = restored["kept_drained"]
        assert kept["node"] == NODE and kept["drained_by"].startswith("operator"), kept
        assert drained_at <= kept["drained_at"] <= time.time()
        assert record["kept_drained"] == [NODE]
    else:
        assert restored["kept_drained"] == [] and "kept_drained" not in record
    # The live loop does as the state says: a drained node takes no job until undrained.
    tenant = api.tenant("t1")
    job_id = api.submit(tenant, command="true", **ONE_A800).json()["id"]
    if case.state == "drained":
        time.sleep(1.0)  # many passes of the loop (50 ms each)
        assert api.job(tenant, job_id)["state"] == "pending"
        act(api, operator, "undrain")
    done = api.wait_for(tenant, job_id, ("succeeded", "failed"))
    assert done["state"] == "succeeded", done
    # Removed and restored again once undrained: it comes back active this time.
    act(api, operator, "remove")
    assert act(api, operator, "restore")["kept_drained"] == []
    assert node_states(api, "lab") == {NODE: "active"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_says_a_restored_node_comes_back_drained(api: Api, server_url: str) -> None:
    api.add_sites([LAB])
    operator = operator_token(api)
    for action in ("drain", "remove"):
        code, out = cli(server_url, operator, "node", action, "lab", "--node", NODE)
        assert code == 0, out
    code, out = cli(server_url, operator, "node", "restore", "lab")
    assert code == 0 and f"restore: {NODE}" in out, out
    assert f"{NODE} comes back drained, as operator" in out and "before its removal" in out, out
    code, out = cli(server_url, operator, "node", "list", "--site", "lab", "--json")
    assert code == 0 and '"drained"' in out, out


# ----- migration 0008 -------------------------------------------------------------------------
def test_0008_brings_nodes_removed_before_it_back_active_and_downgrades(bare_store: Any) -> None:
    run(bare_store, "upgrade", "0007_tenant_running_caps")
    execute(
        bare_store,
        "INSERT INTO sites (name, country, spec, created_at) VALUES ('lab', 'SG', '{}', 0)",
        "INSERT INTO node_states (site, node, state, changed_at, changed_by) VALUES"
        " ('lab', 'lab-a800-00000', 'removed', 5, 'admin')",
    )
    run(bare_store, "upgrade", "0008_node_drain_kept")
    row = one_row(bare_store, "SELECT state, changed_by, drained_at, drained_by FROM node_states")
    assert row == ("removed", "admin", None, None)
    run(bare_store, "downgrade", "0007_tenant_running_caps")
    assert {"drained_at", "drained_by"}.isdisjoint(columns(bare_store, "node_states"))
    assert one_row(bare_store, "SELECT state FROM node_states") == ("removed",)
