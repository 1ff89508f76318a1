"""The audit log in the platform's database, written in the same transaction as the state
change each record describes.

`SqlAuditStore` implements `audit.store.AuditStore` over the `audit_records` and
`audit_checkpoints` tables, so `audit.log.verify` and `export` work on the database as on a
JSONL file. Appends go through `audited(store)`: a session that first takes the log's lock
(a process lock, and on PostgreSQL a transaction-scoped advisory lock, so several server
processes also append one at a time), reads the chain's tail inside the transaction, and
commits record and state change together; a rolled-back change leaves no record, and a
record never exists without its change.

The lock is taken before the session writes anything: a session that wrote first and then
waited for the lock could deadlock against SQLite's single writer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from silkroute.audit import merkle
from silkroute.audit.log import key_id, load_private_key, new_key, now_utc, write_keys
from silkroute.audit.records import GENESIS, KINDS, AuditError, AuditRecord, Checkpoint
from silkroute.store.db import Store
from silkroute.store.models import AuditCheckpointRow, AuditRecordRow

_LOCK = threading.Lock()
_PG_LOCK_KEY = 0x5111C_A0D1  # any constant; names the audit log's advisory lock
KEY_FILE = "audit.key"


class SqlAuditStore:
    """`AuditStore` over a session (reads and appends happen in its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def append(self, record: AuditRecord, flush: bool = True) -> None:
        self.session.add(
            AuditRecordRow(
                seq=record.seq,
                at=record.at,
                kind=record.kind,
                actor=record.actor,
                subject=record.subject,
                detail=json.dumps(dict(record.detail), sort_keys=True, ensure_ascii=False),
                prev=record.prev,
                hash=record.hash,
            )
        )
        if flush:
            self.session.flush()

    def records(self, start: int = 0) -> Iterator[AuditRecord]:
        """Every record (from seq `start` on) in seq order. Rows are read as stored; `verify`
        judges them."""
        query = select(AuditRecordRow).order_by(AuditRecordRow.seq)
        if start:
            query = query.where(AuditRecordRow.seq >= start)
        rows = self.session.execute(query.execution_options(yield_per=2000))
        for position, (row,) in enumerate(rows, start=start):
            try:
                detail = json.loads(row.detail)
            except ValueError:
                raise AuditError(f"record #{position}: detail is not valid JSON (edited)") from None
            yield AuditRecord(
                seq=row.seq,
                at=row.at,
                kind=row.kind,
                actor=row.actor,
                subject=row.subject,
                detail=detail,
                prev=row.prev,
                hash=row.hash,
            )

    def add_checkpoint(self, checkpoint: Checkpoint, frontier: str | None = None) -> None:
        self.session.add(AuditCheckpointRow(**checkpoint.to_json(), frontier=frontier))
        self.session.flush()

    def checkpoints(self) -> list[Checkpoint]:
        rows = self.session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.id))
        return [Checkpoint(r.tree_size, r.root, r.at, r.key_id, r.signature) for r in rows.all()]


@contextmanager
def audited(store: Store) -> Iterator[Session]:
    """A session that may append audit records (`record`); commits on success."""
    with _LOCK, store.session() as session:
        if not store.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        session.info["audited"] = True
        yield session


def record(
    session: Session,
    kind: str,
    actor: str,
    subject: str,
    detail: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one record, chained to the last one, in the session's transaction."""
    if not session.info.get("audited"):
        raise RuntimeError("audit records are appended in an `audited(store)` session")
    if kind not in KINDS:
        raise ValueError(f"audit kind must be one of {', '.join(KINDS)} (got {kind!r})")
    # The chain's tail is read once per transaction: the log's lock is held until it ends,
    # so no one else appends meanwhile (a batch of records costs no query each).
    tail = session.info.get("audit_tail")
    if tail is None:
        tail = session.execute(
            select(AuditRecordRow.seq, AuditRecordRow.hash)
            .order_by(AuditRecordRow.seq.desc())
            .limit(1)
        ).first()
    seq, prev = (0, GENESIS) if tail is None else (tail[0] + 1, tail[1])
    sealed = AuditRecord(
        seq=seq,
        at=now_utc(),
        kind=kind,
        actor=actor,
        subject=subject,
        detail=json.loads(json.dumps(dict(detail or {}))),
        prev=prev,
    ).sealed()
    SqlAuditStore(session).append(sealed, flush=False)  # written with the transaction
    session.info["audit_tail"] = (sealed.seq, sealed.hash)
    return sealed


def checkpoint(store: Store, key: Ed25519PrivateKey) -> Checkpoint | None:
    """Sign the tree as it stands, unless the latest checkpoint already covers every record.

    Incremental, as a Certificate Transparency log: the latest checkpoint keeps the Merkle
    frontier at its size, so a checkpoint reads and hashes only the records after it (O(new
    records), not O(all records)). The frontier is used only if it gives the latest checkpoint's
    root and that checkpoint's signature verifies; else (an older checkpoint without one) the
    tree is rebuilt from every record, once. The new records must chain from the last signed
    one: the signer never signs over a broken chain. `audit verify` trusts none of this and
    recomputes everything from the records.
    """
    with audited(store) as session:
        audit = SqlAuditStore(session)
        latest = session.scalars(
            select(AuditCheckpointRow).order_by(AuditCheckpointRow.id.desc()).limit(1)
        ).first()
        frontier = _trusted_frontier(latest, key.public_key()) or merkle.Frontier()
        prev = GENESIS
        if frontier.size:
            tail = session.scalar(
                select(AuditRecordRow.hash).where(AuditRecordRow.seq == frontier.size - 1)
            )
            if tail is None:
                raise AuditError(
                    f"record #{frontier.size - 1}: missing, though the latest checkpoint "
                    f"covers {frontier.size} records (run `silkroute audit verify`)"
                )
            prev = tail
        for record in audit.records(start=frontier.size):
            if (
                record.seq != frontier.size
                or record.prev != prev
                or record.expected_hash() != record.hash
            ):
                raise AuditError(
                    f"record #{frontier.size}: does not chain from the signed log; not signing "
                    "(run `silkroute audit verify`)"
                )
            frontier.append(record.leaf())
            prev = record.hash
        if not frontier.size or (latest is not None and latest.tree_size == frontier.size):
            return None
        unsigned = Checkpoint(
            frontier.size, frontier.root().hex(), now_utc(), key_id(key.public_key()), ""
        )
        signed = Checkpoint(
            **{**unsigned.to_json(), "signature": key.sign(unsigned.message()).hex()}
        )
        audit.add_checkpoint(signed, frontier.to_text())
        return signed


def _trusted_frontier(
    row: AuditCheckpointRow | None, public: Ed25519PublicKey
) -> merkle.Frontier | None:
    """The latest checkpoint's frontier if it gives that checkpoint's signed root."""
    if row is None or row.frontier is None:
        return None
    head = Checkpoint(row.tree_size, row.root, row.at, row.key_id, row.signature)
    try:
        frontier = merkle.Frontier.from_text(row.tree_size, row.frontier)
        public.verify(bytes.fromhex(head.signature), head.message())
    except (ValueError, InvalidSignature):
        return None
    return frontier if frontier.root().hex() == row.root else None


def signing_key(data_dir: Path, create: bool = False) -> Ed25519PrivateKey | None:
    """The log's key in the data directory (`audit.key`, 0600; `audit.key.pub` beside it)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        if not create:
            return None
        write_keys(new_key(), path)
    return load_private_key(path)
