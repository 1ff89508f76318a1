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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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

    def append(self, record: AuditRecord) -> None:
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
        self.session.flush()

    def records(self) -> Iterator[AuditRecord]:
        """Every record in seq order. Rows are read as stored; `verify` judges them."""
        rows = self.session.execute(select(AuditRecordRow).order_by(AuditRecordRow.seq))
        for position, (row,) in enumerate(rows):
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

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.session.add(AuditCheckpointRow(**checkpoint.to_json()))
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
    tail = session.execute(
        select(AuditRecordRow.seq, AuditRecordRow.hash).order_by(AuditRecordRow.seq.desc()).limit(1)
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
    SqlAuditStore(session).append(sealed)
    return sealed


def checkpoint(store: Store, key: Ed25519PrivateKey) -> Checkpoint | None:
    """Sign the tree as it stands, unless the latest checkpoint already covers every record."""
    with audited(store) as session:
        audit = SqlAuditStore(session)
        leaves = [r.leaf() for r in audit.records()]
        latest = session.scalar(
            select(AuditCheckpointRow.tree_size).order_by(AuditCheckpointRow.id.desc()).limit(1)
        )
        if not leaves or latest == len(leaves):
            return None
        unsigned = Checkpoint(
            len(leaves), merkle.root(leaves).hex(), now_utc(), key_id(key.public_key()), ""
        )
        signed = Checkpoint(
            **{**unsigned.to_json(), "signature": key.sign(unsigned.message()).hex()}
        )
        audit.add_checkpoint(signed)
        return signed


def signing_key(data_dir: Path, create: bool = False) -> Ed25519PrivateKey | None:
    """The log's key in the data directory (`audit.key`, 0600; `audit.key.pub` beside it)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        if not create:
            return None
        write_keys(new_key(), path)
    return load_private_key(path)
