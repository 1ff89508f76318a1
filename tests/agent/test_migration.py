"""0003_agents upgrades a 0002 database holding a run and a token, keeps them, and
downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from silkroute.store.db import Store
from tests.platform.migrations import columns, execute, one_row, run, scalar, tables


def test_0003_agents_upgrades_a_0002_database_with_runs_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0002_governance")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0, false)",
        "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts,"
        " failures, cancel_requested, message) VALUES ('acme', 'j', '{}', 'running',"
        " 0, 1, 0, false, '')",
        "INSERT INTO runs (run_id, job_id, attempt, site, accelerators, placement,"
        " state, created_at) VALUES ('job1-a1', 1, 1, 's', 1, '[]', 'running', 0)",
        "INSERT INTO tokens (token_hash, role, label, created_at)"
        " VALUES ('h', 'admin', 'admin', 0)",
    )
    run(bare_store, "upgrade", "head")
    assert "agents" in tables(bare_store)
    row = one_row(bare_store, "SELECT engine_state, report_new, launch_failed FROM runs")
    assert row[0] is None and row[1] in (False, 0) and row[2] in (False, 0)
    assert scalar(bare_store, "SELECT site FROM tokens") is None
    run(bare_store, "downgrade", "0002_governance")
    assert "agents" not in tables(bare_store)
    assert "engine_state" not in columns(bare_store, "runs")
    assert "site" not in columns(bare_store, "tokens")
    assert scalar(bare_store, "SELECT run_id FROM runs") == "job1-a1"
