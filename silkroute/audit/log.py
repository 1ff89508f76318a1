"""Append, checkpoint, verify and export the audit log.

`verify` trusts nothing it reads: it recomputes every record's hash and link, the Merkle root
at every checkpoint and each checkpoint's signature, and raises `AuditError` naming the first
bad record (by its 0-based position, which is its `seq` in an untouched log).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from silkroute.audit import merkle
from silkroute.audit.records import GENESIS, KINDS, AuditError, AuditRecord, Checkpoint
from silkroute.audit.store import AuditStore


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class AuditLog:
    """Appends to a store, keeping the chain's tail and the tree's leaves in memory."""

    def __init__(self, store: AuditStore, signing_key: Ed25519PrivateKey | None = None) -> None:
        self.store = store
        self.signing_key = signing_key
        self.tree = merkle.Frontier()  # appends and checkpoints cost O(log n)
        self.last_hash = GENESIS
        for record in store.records():
            self.tree.append(record.leaf())
            self.last_hash = record.hash

    def __len__(self) -> int:
        return self.tree.size

    def append(
        self,
        kind: str,
        actor: str,
        subject: str,
        detail: Mapping[str, Any] | None = None,
        at: str | None = None,
    ) -> AuditRecord:
        if kind not in KINDS:
            raise ValueError(f"audit kind must be one of {', '.join(KINDS)} (got {kind!r})")
        record = AuditRecord(
            seq=self.tree.size,
            at=at or now_utc(),
            kind=kind,
            actor=actor,
            subject=subject,
            detail=json.loads(json.dumps(dict(detail or {}))),  # JSON-clean, a private copy
            prev=self.last_hash,
        ).sealed()
        self.store.append(record)
        self.tree.append(record.leaf())
        self.last_hash = record.hash
        return record

    def checkpoint(self, at: str | None = None) -> Checkpoint:
        """Sign the tree as it stands: (size, root, time)."""
        if self.signing_key is None:
            raise ValueError("a checkpoint needs the log's signing key")
        unsigned = Checkpoint(
            self.tree.size,
            self.tree.root().hex(),
            at or now_utc(),
            key_id(self.signing_key.public_key()),
            "",
        )
        signature = self.signing_key.sign(unsigned.message()).hex()
        signed = Checkpoint(**{**unsigned.to_json(), "signature": signature})
        self.store.add_checkpoint(signed)
        return signed


@dataclass(frozen=True)
class VerifyReport:
    records: int
    checkpoints: int
    signed_size: int  # records covered by the latest checkpoint

    @property
    def unsigned(self) -> int:
        return self.records - self.signed_size

    def summary(self) -> str:
        tail = f"; {self.unsigned} newer records not yet signed" if self.unsigned else ""
        none = (
            "; no signed checkpoint: a full rewrite would go unseen" if not self.checkpoints else ""
        )
        return (
            f"ok: {self.records} records, hash chain intact, {self.checkpoints} checkpoints "
            f"verified (latest covers {self.signed_size}){tail}{none}"
        )


def verify(store: AuditStore, public_key: Ed25519PublicKey) -> tuple[VerifyReport, list[bytes]]:
    """Recompute everything; raise AuditError at the first problem. Returns the leaves too."""
    leaves: list[bytes] = []
    prev = GENESIS
    previous: AuditRecord | None = None
    for position, record in enumerate(store.records()):
        name = f"record #{position}"
        if record.expected_hash() != record.hash:
            raise AuditError(f"{name} (seq {record.seq}): contents do not match its hash (edited)")
        if record.seq > position:
            raise AuditError(
                f"{name}: has seq {record.seq}: record(s) #{position}..#{record.seq - 1} "
                "were dropped, or rows were reordered"
            )
        if record.seq < position:
            raise AuditError(
                f"record #{record.seq}: a second record claims seq {record.seq} at position "
                f"{position}: a record was inserted, duplicated or moved"
            )
        if record.prev != prev:
            assert previous is not None  # seq 0 always links to GENESIS or fails above
            raise AuditError(
                f"record #{position - 1}: rewritten (its hash no longer matches the prev of "
                f"record #{position}; one of the two was replaced)"
            )
        if record.kind not in KINDS:
            raise AuditError(f"{name}: unknown kind {record.kind!r}")
        leaves.append(record.leaf())
        prev = record.hash
        previous = record
    heads = store.checkpoints()
    expected_key = key_id(public_key)
    last_size, last_root = 0, merkle.EMPTY_ROOT
    for number, head in enumerate(heads):
        name = f"checkpoint #{number} (size {head.tree_size})"
        if head.key_id != expected_key:
            raise AuditError(f"{name}: signed by key {head.key_id}, not {expected_key}")
        try:
            public_key.verify(bytes.fromhex(head.signature), head.message())
        except (InvalidSignature, ValueError):
            raise AuditError(f"{name}: signature does not verify (checkpoint forged)") from None
        if head.tree_size > len(leaves):
            raise AuditError(
                f"record #{len(leaves)}: missing: {name} covers {head.tree_size} records "
                f"but the log has {len(leaves)} (records dropped from the end)"
            )
        if head.tree_size < last_size:
            raise AuditError(f"{name}: smaller than the checkpoint before it ({last_size})")
        root = merkle.root(leaves[: head.tree_size])
        if root.hex() != head.root:
            raise AuditError(
                f"{name}: root does not match records #0..#{head.tree_size - 1} "
                "(a record before it was rewritten with a fresh chain)"
            )
        if last_size:
            proof = merkle.consistency_proof(last_size, leaves[: head.tree_size])
            if not merkle.verify_consistency(last_size, head.tree_size, last_root, root, proof):
                raise AuditError(f"{name}: not consistent with the checkpoint before it")
        last_size, last_root = head.tree_size, root
    return VerifyReport(len(leaves), len(heads), last_size), leaves


def export(store: AuditStore, public_key: Ed25519PublicKey, out: TextIO) -> VerifyReport:
    """Verify, then write JSONL: the checkpoints, consistency proofs between them, and every
    record with its inclusion proof against the latest checkpoint (or, for newer records,
    against the current unsigned root, marked `"signed": false`)."""
    report, leaves = verify(store, public_key)
    heads = store.checkpoints()
    for number, head in enumerate(heads):
        out.write(json.dumps({"type": "checkpoint", **head.to_json()}) + "\n")
        if number:
            old = heads[number - 1].tree_size
            proof = merkle.consistency_proof(old, leaves[: head.tree_size]) if old else []
            row = {"type": "consistency", "from": old, "to": head.tree_size}
            out.write(json.dumps({**row, "proof": [p.hex() for p in proof]}) + "\n")
    signed = report.signed_size
    full_root = merkle.root(leaves).hex()
    for index, record in enumerate(store.records()):
        size = signed if index < signed else len(leaves)
        proof = merkle.inclusion_proof(index, leaves[:size])
        row = {
            "type": "record",
            "record": record.to_json(),
            "leaf_index": index,
            "tree_size": size,
            "root": heads[-1].root if index < signed else full_root,
            "signed": index < signed,
            "inclusion": [p.hex() for p in proof],
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return report


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def write_keys(key: Ed25519PrivateKey, path: Path) -> Path:
    """Private key to `path` (mode 0600), public key to `path.pub`; returns the latter."""
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(private)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(public)
    return pub


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read public key: {exc.strerror}") from None
    except ValueError:
        raise ValueError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read signing key: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ValueError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key
