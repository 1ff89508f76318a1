"""`silkroute audit`: keys, append, checkpoint, verify and export a JSONL audit log.

Exit codes: 0 ok; 1 the log fails verification (one line naming the first bad record);
2 bad input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console

from silkroute.audit.log import (
    AuditLog,
    export,
    load_private_key,
    load_public_key,
    new_key,
    verify,
    write_keys,
)
from silkroute.audit.records import AuditError
from silkroute.audit.store import AuditStore, JsonlAuditStore

EXIT_OK, EXIT_TAMPERED, EXIT_BAD_INPUT = 0, 1, 2

audit_app = typer.Typer(help="Tamper-evident audit log: verify, export with proofs, sign.")
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)

LogOption = Annotated[Path, typer.Option("--log", help="The audit log (JSONL)")]
PublicKeyOption = Annotated[
    Path, typer.Option("--public-key", help="The log's Ed25519 public key (PEM)")
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    label = "[red]tampered:[/red]" if code == EXIT_TAMPERED else "[red]error:[/red]"
    errors.print(f"{label} {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise _fail(f"--log: no such file {path}")
    return path


@audit_app.command("keygen")
def keygen(out: Annotated[Path, typer.Option(help="Private key file to create")]) -> None:
    """Create an Ed25519 signing key (OUT, mode 0600) and its public key (OUT.pub)."""
    if out.exists():
        raise _fail(f"--out: {out} exists; refusing to overwrite a key")
    try:
        pub = write_keys(new_key(), out)
    except OSError as exc:  # a file where the folder should be: it was a traceback
        raise _fail(f"--out: cannot write {out}: {exc.strerror}") from None
    console.print(f"signing key {out}, public key {pub}")


@audit_app.command("append")
def append(
    log: LogOption,
    kind: Annotated[str, typer.Option(help="data-decision, placement, preemption, cancel, admin")],
    actor: Annotated[str, typer.Option(help="Who acted")],
    subject: Annotated[str, typer.Option(help="What it concerns, e.g. job/42")],
    detail: Annotated[str, typer.Option(help="JSON object")] = "{}",
) -> None:
    """Append one record (operators' admin actions; the platform appends its own)."""
    try:
        # NaN and Infinity are not JSON: the log would hold lines other readers refuse.
        parsed = json.loads(detail, parse_constant=_no_constant)
        if not isinstance(parsed, dict):
            raise ValueError("a JSON object")
        record = AuditLog(JsonlAuditStore(log)).append(kind, actor, subject, parsed)
    except json.JSONDecodeError as exc:
        raise _fail(f"--detail: not valid JSON ({exc.msg})") from None
    except (ValueError, AuditError) as exc:
        raise _fail(f"--detail/--kind: {exc}") from None
    except OSError as exc:  # a folder as --log, or a file above it: it was a traceback
        raise _fail(f"--log: cannot write {log}: {exc.strerror}") from None
    console.print(f"record #{record.seq} {record.hash}")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


@audit_app.command("checkpoint")
def checkpoint(
    log: LogOption, key: Annotated[Path, typer.Option(help="Signing key (PEM)")]
) -> None:
    """Sign the tree as it stands (size, root, time) and append the checkpoint."""
    try:
        signer = load_private_key(key)
        head = AuditLog(JsonlAuditStore(_existing(log)), signer).checkpoint()
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except AuditError as exc:
        raise _fail(str(exc), EXIT_TAMPERED) from None
    console.print(f"checkpoint: {head.tree_size} records, root {head.root}")


OptionalLog = Annotated[Path | None, typer.Option("--log", help="An audit log (JSONL)")]
OptionalPublicKey = Annotated[
    Path | None,
    typer.Option("--public-key", help="Ed25519 public key (default: DATA_DIR/audit.key.pub)"),
]
DbOption = Annotated[
    str | None, typer.Option("--db", help="The platform's database URL (its audit log)")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The server's data directory (its database and key)"),
]


def _public_key(public_key: Path | None, data_dir: Path | None) -> Ed25519PublicKey:
    if public_key is None:
        if data_dir is None:
            raise _fail("--public-key: needed unless --data-dir holds audit.key.pub")
        public_key = data_dir / "audit.key.pub"
    try:
        return load_public_key(public_key)
    except ValueError as exc:
        raise _fail(f"--public-key: {exc}") from None


@contextmanager
def _opened(log: Path | None, db: str | None, data_dir: Path | None) -> Iterator[AuditStore]:
    """A JSONL log, or the platform's database (`--db`, else SQLite under `--data-dir`)."""
    if (log is None) == (db is None and data_dir is None):
        raise _fail("--log: give a JSONL --log, or the platform's --db / --data-dir")
    if log is not None:
        yield JsonlAuditStore(_existing(log))
        return
    from sqlalchemy.exc import SQLAlchemyError

    from silkroute.store.audit import SqlAuditStore
    from silkroute.store.db import Store

    if db is None:
        assert data_dir is not None
        if not (data_dir / "silkroute.db").is_file():
            raise _fail(f"--data-dir: no database in {data_dir}")
        db = f"sqlite:///{data_dir / 'silkroute.db'}"
    try:
        store = Store(db)  # a URL of no known kind fails here, before any session
    except SQLAlchemyError as exc:
        raise _fail(f"--db: cannot open the database: {str(exc).splitlines()[0]}") from None
    try:
        with store.session() as session:
            yield SqlAuditStore(session)
    except SQLAlchemyError as exc:
        raise _fail(f"--db: cannot read the audit log: {str(exc).splitlines()[0]}") from None
    finally:
        store.close()


@audit_app.command("verify")
def verify_command(
    log: OptionalLog = None,
    public_key: OptionalPublicKey = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Recompute the chain, the Merkle roots and the signatures; name the first bad record.

    Give a JSONL `--log`, or the platform's database (`--db URL` and/or `--data-dir`)."""
    key = _public_key(public_key, data_dir)
    try:
        with _opened(log, db, data_dir) as store:
            report, _ = verify(store, key)
    except AuditError as exc:
        raise _fail(str(exc), EXIT_TAMPERED) from None
    console.print(report.summary(), highlight=False)


@audit_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option(help="JSONL file to write ('-' for stdout)")],
    log: OptionalLog = None,
    public_key: OptionalPublicKey = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Verify, then write every record with its inclusion proof, and the checkpoints."""
    key = _public_key(public_key, data_dir)
    try:
        with _opened(log, db, data_dir) as store:
            if str(out) == "-":
                report = export(store, key, sys.stdout)
            else:
                # Written beside the target and renamed when complete: a failed export leaves
                # neither a half file nor a stale partial.
                partial = out.with_name(out.name + ".partial")
                try:
                    with partial.open("w", encoding="utf-8") as sink:
                        report = export(store, key, sink)
                except BaseException:
                    partial.unlink(missing_ok=True)
                    raise
                partial.replace(out)
    except AuditError as exc:
        raise _fail(str(exc), EXIT_TAMPERED) from None
    except OSError as exc:
        raise _fail(f"--out: cannot write {out}: {exc.strerror}") from None
    errors.print(report.summary(), highlight=False)
