"""The audit log in the platform's database: every data decision, placement, cancel and admin
action is recorded with its state change; `audit verify` names the first bad row after any
edit, deletion or reordering done with SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from silkroute.audit.log import load_public_key, verify
from silkroute.audit.records import AuditError
from silkroute.cli import app
from silkroute.store.audit import SqlAuditStore
from tests.platform.conftest import WAIT_S, Api

runner = CliRunner()
DATASET = {"name": "vn-health", "origin": "VN", "data_class": "personal", "subjects": 40_000}


def busy_platform(api: Api) -> None:
    """Admin actions, a data decision at submit, a data-law hold, a placement and a cancel."""
    api.add_sites()
    acme = api.tenant("acme")
    assert api.client.post("/v1/datasets", json=DATASET, headers=api.as_(acme)).status_code == 201
    held = api.submit(acme, datasets=["vn-health"], accelerator_types=["H100"]).json()["id"]
    deadline_hold(api, acme, held)
    grant = {"mechanism": "tia", "origin": "VN", "destinations": ["SG"]}
    assert api.client.post("/v1/compliance", json=grant, headers=api.as_(acme)).status_code == 201
    api.wait_for(acme, held, ("succeeded",))
    doomed = api.submit(acme, command="sleep 30").json()["id"]
    api.client.delete(f"/v1/jobs/{doomed}", headers=api.as_(acme))
    api.wait_for(acme, doomed, ("cancelled",))
    api.platform.loop._checkpoint_audit(force=True)


def deadline_hold(api: Api, token: str, job_id: int) -> None:
    import time

    deadline = time.monotonic() + WAIT_S
    while not api.job(token, job_id)["hold_reason"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def verify_cli(api: Api, *extra: str, command: str = "verify") -> tuple[int, str]:
    args = ["audit", command, "--data-dir", str(api.data_dir), *extra]
    if not api.platform.store.is_sqlite:
        args += ["--db", api.platform.store.url]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_every_kind_of_decision_is_recorded_and_the_log_verifies(api: Api) -> None:
    busy_platform(api)
    with api.platform.store.session() as session:
        records = list(SqlAuditStore(session).records())
        report, _ = verify(SqlAuditStore(session), load_public_key(api.data_dir / "audit.key.pub"))
    kinds = Counter(r.kind for r in records)
    assert kinds["admin"] == 5 + 1 + 1 + 1  # five sites, a tenant, a dataset, a grant
    assert kinds["cancel"] == 1
    assert kinds["placement"] >= 1
    data = [r for r in records if r.kind == "data-decision"]
    assert data[0].subject.startswith("job/") and data[0].detail["rules_version"]
    assert any(r.detail.get("reason") == "data-law:VN-PDPL-PERSONAL" for r in data)
    placed = next(r for r in records if r.kind == "placement" and r.detail["datasets"])
    assert placed.detail["site"] == "singapore"
    assert placed.detail["data_decision"]["verdict"] == "allow"
    assert report.records == len(records) and report.signed_size == len(records)
    code, out = verify_cli(api)
    assert code == 0 and f"ok: {len(records)} records" in out, out
    proofs = api.data_dir / "proofs.jsonl"
    code, out = verify_cli(api, "--out", str(proofs), command="export")
    assert code == 0, out
    rows = [json.loads(line) for line in proofs.read_text().splitlines()]
    exported = [r for r in rows if "leaf_index" in r]
    assert [r["record"]["seq"] for r in exported] == [r.seq for r in records]
    assert all(r["signed"] for r in exported)


@dataclass(frozen=True)
class Tampering:
    name: str
    sql: list[str]
    want: str


TAMPERING = [
    Tampering(
        "an edited actor",
        ["UPDATE audit_records SET actor = 'nobody' WHERE seq = 3"],
        "record #3 (seq 3): contents do not match its hash (edited)",
    ),
    Tampering(
        "an edited detail",
        ["UPDATE audit_records SET detail = '{}' WHERE seq = 6"],
        "record #6 (seq 6): contents do not match its hash (edited)",
    ),
    Tampering(
        "a deleted row",
        ["DELETE FROM audit_records WHERE seq = 4"],
        "record #4: has seq 5",
    ),
    Tampering(
        "two rows swapped",
        [
            "UPDATE audit_records SET seq = -1 WHERE seq = 2",
            "UPDATE audit_records SET seq = 2 WHERE seq = 7",
            "UPDATE audit_records SET seq = 7 WHERE seq = -1",
        ],
        "record #2",
    ),
    Tampering(
        "the newest rows dropped",
        ["DELETE FROM audit_records WHERE seq >= 9"],
        "record #9: missing",
    ),
]


@pytest.mark.parametrize("case", TAMPERING, ids=lambda c: c.name)
def test_tampering_with_audit_rows_in_sql_names_the_first_bad_record(
    api: Api, case: Tampering
) -> None:
    busy_platform(api)
    api.platform.loop.stop()  # no more appends or checkpoints while we tamper
    with api.platform.store.session() as session:
        for statement in case.sql:
            session.execute(text(statement))
    with api.platform.store.session() as session, pytest.raises(AuditError) as caught:
        verify(SqlAuditStore(session), load_public_key(api.data_dir / "audit.key.pub"))
    assert case.want in str(caught.value)
    code, out = verify_cli(api)
    assert code == 1 and case.want in " ".join(out.split()), out
