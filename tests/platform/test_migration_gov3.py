"""0005_gov3 adds the yearly transfer count and the checkpoint frontier to a database
with an audit log in it, keeps the log, and downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from silkroute.store.db import Store
from tests.platform.migrations import alembic_config, columns, execute, one_row, run, scalar, tables


def before_gov3() -> str:
    """The revision 0005_gov3 follows (the chain may be re-ordered when branches merge)."""
    down = ScriptDirectory.from_config(alembic_config()).get_revision("0005_gov3").down_revision
    assert isinstance(down, str)
    return down


def test_0005_gov3_upgrades_a_database_with_checkpoints_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", before_gov3())
    execute(
        bare_store,
        "INSERT INTO audit_checkpoints (tree_size, root, at, key_id, signature)"
        " VALUES (3, 'ab', 'now', 'k', 'sig')",
    )
    run(bare_store, "upgrade", "0005_gov3")
    assert "data_transfers" in tables(bare_store)
    assert "frontier" in columns(bare_store, "audit_checkpoints")
    # an old checkpoint: rebuilt once, then kept
    assert one_row(bare_store, "SELECT tree_size, frontier FROM audit_checkpoints") == (3, None)
    run(bare_store, "downgrade", before_gov3())
    assert "data_transfers" not in tables(bare_store)
    assert "frontier" not in columns(bare_store, "audit_checkpoints")
    assert scalar(bare_store, "SELECT root FROM audit_checkpoints") == "ab"
