"""The governance migration upgrades a database made by 0001 with data in it, keeps that
data, and downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from silkroute.store.db import MIGRATIONS, Store, default_url


def run(store: Store, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_0002_governance_upgrades_a_0001_database_with_tenants_and_downgrades(
    tmp_path: Path, db_url: str | None
) -> None:
    store = Store(db_url or default_url(tmp_path / "data"))
    try:
        run(store, "upgrade", "0001")
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
                    " pay_as_you_go, created_at) VALUES ('acme', 'SG', 1, '{}', 0, true, 0)"
                )
            )
        run(store, "upgrade", "head")
        tables = set(inspect(store.engine).get_table_names())
        assert {"datasets", "compliance_grants", "audit_records", "audit_checkpoints"} <= tables
        with store.engine.begin() as connection:
            ciio = connection.execute(text("SELECT ciio FROM tenants WHERE name = 'acme'"))
            assert ciio.scalar_one() in (False, 0)
        run(store, "downgrade", "0001")
        inspector = inspect(store.engine)
        assert "datasets" not in inspector.get_table_names()
        assert "ciio" not in {c["name"] for c in inspector.get_columns("tenants")}
        with store.engine.begin() as connection:
            assert connection.execute(text("SELECT name FROM tenants")).scalar_one() == "acme"
    finally:
        store.close()


def test_0004_api_adds_revocation_and_node_states_and_downgrades(
    tmp_path: Path, db_url: str | None
) -> None:
    store = Store(db_url or default_url(tmp_path / "data"))
    try:
        run(store, "upgrade", "0002_governance")
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO tokens (token_hash, role, label, created_at)"
                    " VALUES ('abc', 'admin', 'admin', 0)"
                )
            )
        run(store, "upgrade", "0004_api")
        assert "node_states" in inspect(store.engine).get_table_names()
        with store.engine.begin() as connection:
            revoked = connection.execute(text("SELECT revoked_at FROM tokens"))
            assert revoked.scalar_one() is None  # existing tokens keep working
        run(store, "downgrade", "0002_governance")
        inspector = inspect(store.engine)
        assert "node_states" not in inspector.get_table_names()
        assert "revoked_at" not in {c["name"] for c in inspector.get_columns("tokens")}
        with store.engine.begin() as connection:
            assert connection.execute(text("SELECT label FROM tokens")).scalar_one() == "admin"
    finally:
        store.close()
