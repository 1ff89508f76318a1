"""An audit record, its chain hash, and a signed checkpoint of the tree, as plain values.

A record's `hash` is SHA-256 over the canonical JSON of every other field, `prev` included,
so each record's hash covers the one before it. Canonical JSON: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from silkroute.audit.merkle import leaf_hash

GENESIS = "0" * 64  # the `prev` of the first record
KINDS = ("data-decision", "placement", "preemption", "cancel", "admin")


class AuditError(Exception):
    """The log is not what was written: the message names the first bad record or checkpoint."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str  # ISO 8601 time in UTC
    kind: str
    actor: str  # who: a user, a tenant, "scheduler"
    subject: str  # what: "job/42", "tenant/acme"
    detail: Mapping[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "actor": self.actor,
            "subject": self.subject,
            "detail": dict(self.detail),
            "prev": self.prev,
        }

    def expected_hash(self) -> str:
        return hashlib.sha256(canonical(self.body())).hexdigest()

    def sealed(self) -> AuditRecord:
        return AuditRecord(**{**self.body(), "hash": self.expected_hash()})

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    def leaf(self) -> bytes:
        """The record's Merkle leaf hash (over all of it, hash included)."""
        return leaf_hash(canonical(self.to_json()))

    @staticmethod
    def from_json(raw: Any, where: str) -> AuditRecord:
        if not isinstance(raw, dict):
            raise AuditError(f"{where}: not a JSON object")
        try:
            record = AuditRecord(
                seq=_typed(raw, "seq", int),
                at=_typed(raw, "at", str),
                kind=_typed(raw, "kind", str),
                actor=_typed(raw, "actor", str),
                subject=_typed(raw, "subject", str),
                detail=_typed(raw, "detail", dict),
                prev=_typed(raw, "prev", str),
                hash=_typed(raw, "hash", str),
            )
        except (KeyError, TypeError) as exc:
            raise AuditError(f"{where}: {exc.args[0]}") from None
        extra = set(raw) - set(record.to_json()) - {"type"}
        if extra:
            raise AuditError(f"{where}: unexpected field {sorted(extra)[0]!r}")
        return record


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the first `tree_size` records have Merkle root `root`."""

    tree_size: int
    root: str  # hex
    at: str
    key_id: str
    signature: str  # hex Ed25519 signature of `message()`

    def message(self) -> bytes:
        return f"silkroute-audit checkpoint v1\n{self.tree_size}\n{self.root}\n{self.at}\n".encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @staticmethod
    def from_json(raw: Any, where: str) -> Checkpoint:
        if not isinstance(raw, dict):
            raise AuditError(f"{where}: not a JSON object")
        try:
            return Checkpoint(
                tree_size=_typed(raw, "tree_size", int),
                root=_typed(raw, "root", str),
                at=_typed(raw, "at", str),
                key_id=_typed(raw, "key_id", str),
                signature=_typed(raw, "signature", str),
            )
        except (KeyError, TypeError) as exc:
            raise AuditError(f"{where}: {exc.args[0]}") from None


def _typed(raw: Mapping[str, Any], name: str, kind: type) -> Any:
    if name not in raw:
        raise KeyError(f"field {name!r} is missing")
    value = raw[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"field {name!r} should be {kind.__name__}, got {type(value).__name__}")
    return value
