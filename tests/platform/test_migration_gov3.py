"""0005_gov3 adds the yearly transfer count and the checkpoint frontier to a database
with an audit log in it, keeps the log, and downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from silkroute.store.db import Store
from tests.platform.test_migrations import alembic_config, run


def before_gov3() -> str:
    """The revision 0005_gov3 follows (the chain may be re-ordered when branches merge)."""
    down = ScriptDirectory.from_config(alembic_config()).get_revision("0005_gov3").down_revision
    assert isinstance(down, str)
    return down


def test_0005_gov3_upgrades_a_database_with_checkpoints_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", before_gov3())
    with bare_store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_checkpoints (tree_size, root, at, key_id, signature)"
                " VALUES (3, 'ab', 'now', 'k', 'sig')"
            )
        )
    run(bare_store, "upgrade", "0005_gov3")
    inspector = inspect(bare_store.engine)
    assert "data_transfers" in inspector.get_table_names()
    assert "frontier" in {c["name"] for c in inspector.get_columns("audit_checkpoints")}
    with bare_store.engine.begin() as connection:
        row = connection.execute(text("SELECT tree_size, frontier FROM audit_checkpoints"))
        assert tuple(row.one()) == (3, None)  # an old checkpoint: rebuilt once, then kept
    run(bare_store, "downgrade", before_gov3())
    inspector = inspect(bare_store.engine)
    assert "data_transfers" not in inspector.get_table_names()
    assert "frontier" not in {c["name"] for c in inspector.get_columns("audit_checkpoints")}
    with bare_store.engine.begin() as connection:
        assert connection.execute(text("SELECT root FROM audit_checkpoints")).scalar_one() == "ab"
