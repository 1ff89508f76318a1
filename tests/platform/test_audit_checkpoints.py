"""Checkpoints are incremental: one hashes only the records since the last (the Merkle
frontier is kept with each checkpoint), while `audit verify` recomputes everything from the
store and still names the first bad record (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text, update

from silkroute.audit import merkle
from silkroute.audit.log import verify
from silkroute.audit.records import AuditError
from silkroute.store.audit import SqlAuditStore, audited, checkpoint, record
from silkroute.store.db import Store, default_url, open_store
from silkroute.store.models import AuditCheckpointRow

KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def store(tmp_path: Path, db_url: str | None) -> Iterator[Store]:
    opened = open_store(db_url or default_url(tmp_path / "data"))
    yield opened
    opened.close()


def append(store: Store, count: int, start: int = 0) -> None:
    with audited(store) as session:
        for i in range(start, start + count):
            record(session, "admin", "ops", f"site/s{i}", {"n": i})


def verified(store: Store) -> tuple[int, int, int]:
    with store.session() as session:
        report, _ = verify(SqlAuditStore(session), KEY.public_key())
    return report.records, report.checkpoints, report.signed_size


def failure(store: Store) -> str:
    with store.session() as session, pytest.raises(AuditError) as caught:
        verify(SqlAuditStore(session), KEY.public_key())
    return str(caught.value)


def frontiers(store: Store) -> list[tuple[int, str | None]]:
    with store.session() as session:
        rows = session.execute(
            select(AuditCheckpointRow.tree_size, AuditCheckpointRow.frontier).order_by(
                AuditCheckpointRow.id
            )
        ).all()
        return [(size, frontier) for size, frontier in rows]


@given(st.integers(0, 300))
def test_the_frontier_gives_the_root_of_every_prefix(size: int) -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(size)]
    tree = merkle.Frontier()
    for leaf in leaves:
        tree.append(leaf)
    assert tree.root() == merkle.root(leaves)
    assert len(tree.hashes) == size.bit_count()
    again = merkle.Frontier.from_text(size, tree.to_text())
    assert again.root() == tree.root()


def test_a_frontier_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="a frontier of 3 leaves has 2 hashes"):
        merkle.Frontier(3, [b"\x00" * 32])
    with pytest.raises(ValueError, match="hex"):
        merkle.Frontier.from_text(1, "zz")


def test_incremental_checkpoints_sign_the_same_roots_as_a_full_recompute(store: Store) -> None:
    for batch, size in enumerate((1, 2, 5, 8, 13)):
        append(store, size, start=100 * batch)
        assert checkpoint(store, KEY) is not None
    assert checkpoint(store, KEY) is None  # nothing new: no checkpoint
    assert verified(store) == (29, 5, 29)
    assert [size for size, _ in frontiers(store)] == [1, 3, 8, 16, 29]
    assert all(f is not None for _, f in frontiers(store))


def test_a_checkpoint_reads_only_records_after_the_last_one(store: Store) -> None:
    append(store, 10)
    checkpoint(store, KEY)
    # Rewrite an old, already signed record: the next checkpoint does not read it again
    # (it costs only the new records), but `audit verify` recomputes everything and names it.
    with store.session() as session:
        session.execute(text("UPDATE audit_records SET actor = 'mallory' WHERE seq = 3"))
    append(store, 5, start=10)
    signed = checkpoint(store, KEY)
    assert signed is not None and signed.tree_size == 15
    assert failure(store).startswith("record #3 (seq 3): contents do not match its hash")


def test_a_checkpoint_refuses_to_sign_over_a_broken_chain(store: Store) -> None:
    append(store, 6)
    checkpoint(store, KEY)
    append(store, 4, start=6)
    with store.session() as session:
        session.execute(text("UPDATE audit_records SET subject = 'x' WHERE seq = 8"))
    with pytest.raises(AuditError, match="record #8: does not chain from the signed log"):
        checkpoint(store, KEY)
    assert [size for size, _ in frontiers(store)] == [6]


@pytest.mark.parametrize(
    "frontier",
    [None, "00" * 32, "not hex"],
    ids=["a checkpoint from before frontiers", "a frontier that does not give the root", "junk"],
)
def test_a_checkpoint_without_a_usable_frontier_rebuilds_the_tree_once(
    store: Store, frontier: str | None
) -> None:
    append(store, 7)
    checkpoint(store, KEY)
    with store.session() as session:
        session.execute(update(AuditCheckpointRow).values(frontier=frontier))
    append(store, 3, start=7)
    assert checkpoint(store, KEY) is not None
    assert verified(store) == (10, 2, 10)
    assert frontiers(store)[-1][1] is not None


def test_a_missing_signed_record_stops_the_checkpoint(store: Store) -> None:
    append(store, 5)
    checkpoint(store, KEY)
    with store.session() as session:
        session.execute(text("DELETE FROM audit_records WHERE seq = 4"))
    with pytest.raises(AuditError, match="record #4: missing"):
        checkpoint(store, KEY)


def test_verify_still_names_the_first_bad_record_after_incremental_checkpoints(
    store: Store,
) -> None:
    for start in (0, 4, 9):
        append(store, 4 + start % 3, start=start)
        checkpoint(store, KEY)
    with store.session() as session:
        session.execute(text("DELETE FROM audit_records WHERE seq = 2"))
    assert failure(store).startswith("record #2: has seq 3")
