"""The governance migration upgrades a database made by 0001 with data in it, keeps that
data, and downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from silkroute.store.db import Store
from tests.platform.migrations import columns, execute, run, scalar, tables


def test_0002_governance_upgrades_a_0001_database_with_tenants_and_downgrades(
    bare_store: Store,
) -> None:
    run(bare_store, "upgrade", "0001")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at) VALUES ('acme', 'SG', 1, '{}', 0, true, 0)",
    )
    run(bare_store, "upgrade", "head")
    assert {"datasets", "compliance_grants", "audit_records", "audit_checkpoints"} <= tables(
        bare_store
    )
    assert scalar(bare_store, "SELECT ciio FROM tenants WHERE name = 'acme'") in (False, 0)
    run(bare_store, "downgrade", "0001")
    assert "datasets" not in tables(bare_store)
    assert "ciio" not in columns(bare_store, "tenants")
    assert scalar(bare_store, "SELECT name FROM tenants") == "acme"


def test_0004_api_adds_revocation_and_node_states_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0002_governance")
    execute(
        bare_store,
        "INSERT INTO tokens (token_hash, role, label, created_at)"
        " VALUES ('abc', 'admin', 'admin', 0)",
    )
    run(bare_store, "upgrade", "0004_api")
    assert "node_states" in tables(bare_store)
    assert scalar(bare_store, "SELECT revoked_at FROM tokens") is None  # tokens keep working
    run(bare_store, "downgrade", "0002_governance")
    assert "node_states" not in tables(bare_store)
    assert "revoked_at" not in columns(bare_store, "tokens")
    assert scalar(bare_store, "SELECT label FROM tokens") == "admin"
