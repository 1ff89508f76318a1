"""0003_agents upgrades a 0002 database holding a run and a token, keeps them, and
downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from silkroute.store.db import Store
from tests.platform.test_migrations import run


def test_0003_agents_upgrades_a_0002_database_with_runs_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0002_governance")
    with bare_store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
                " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0,"
                " false)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts,"
                " failures, cancel_requested, message) VALUES ('acme', 'j', '{}', 'running',"
                " 0, 1, 0, false, '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO runs (run_id, job_id, attempt, site, accelerators, placement,"
                " state, created_at) VALUES ('job1-a1', 1, 1, 's', 1, '[]', 'running', 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO tokens (token_hash, role, label, created_at)"
                " VALUES ('h', 'admin', 'admin', 0)"
            )
        )
    run(bare_store, "upgrade", "head")
    assert "agents" in inspect(bare_store.engine).get_table_names()
    with bare_store.engine.begin() as connection:
        row = connection.execute(
            text("SELECT engine_state, report_new, launch_failed FROM runs")
        ).one()
        assert row[0] is None and row[1] in (False, 0) and row[2] in (False, 0)
        assert connection.execute(text("SELECT site FROM tokens")).scalar_one() is None
    run(bare_store, "downgrade", "0002_governance")
    inspector = inspect(bare_store.engine)
    assert "agents" not in inspector.get_table_names()
    assert "engine_state" not in {c["name"] for c in inspector.get_columns("runs")}
    assert "site" not in {c["name"] for c in inspector.get_columns("tokens")}
    with bare_store.engine.begin() as connection:
        assert connection.execute(text("SELECT run_id FROM runs")).scalar_one() == "job1-a1"
