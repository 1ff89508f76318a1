"""The governance migration upgrades a database made by 0001 with data in it, keeps that
data, and downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from silkroute.store.db import MIGRATIONS, Store


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def run(store: Store, action: str, revision: str) -> None:
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_0002_governance_upgrades_a_0001_database_with_tenants_and_downgrades(
    bare_store: Store,
) -> None:
    run(bare_store, "upgrade", "0001")
    with bare_store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
                " pay_as_you_go, created_at) VALUES ('acme', 'SG', 1, '{}', 0, true, 0)"
            )
        )
    run(bare_store, "upgrade", "head")
    tables = set(inspect(bare_store.engine).get_table_names())
    assert {"datasets", "compliance_grants", "audit_records", "audit_checkpoints"} <= tables
    with bare_store.engine.begin() as connection:
        ciio = connection.execute(text("SELECT ciio FROM tenants WHERE name = 'acme'"))
        assert ciio.scalar_one() in (False, 0)
    run(bare_store, "downgrade", "0001")
    inspector = inspect(bare_store.engine)
    assert "datasets" not in inspector.get_table_names()
    assert "ciio" not in {c["name"] for c in inspector.get_columns("tenants")}
    with bare_store.engine.begin() as connection:
        assert connection.execute(text("SELECT name FROM tenants")).scalar_one() == "acme"


def test_0004_api_adds_revocation_and_node_states_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0002_governance")
    with bare_store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tokens (token_hash, role, label, created_at)"
                " VALUES ('abc', 'admin', 'admin', 0)"
            )
        )
    run(bare_store, "upgrade", "0004_api")
    assert "node_states" in inspect(bare_store.engine).get_table_names()
    with bare_store.engine.begin() as connection:
        revoked = connection.execute(text("SELECT revoked_at FROM tokens"))
        assert revoked.scalar_one() is None  # existing tokens keep working
    run(bare_store, "downgrade", "0002_governance")
    inspector = inspect(bare_store.engine)
    assert "node_states" not in inspector.get_table_names()
    assert "revoked_at" not in {c["name"] for c in inspector.get_columns("tokens")}
    with bare_store.engine.begin() as connection:
        assert connection.execute(text("SELECT label FROM tokens")).scalar_one() == "admin"
