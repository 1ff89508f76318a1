"""What the audit log costs on the platform's store (SQLite in a temporary directory):
records appended per second, one per transaction (as the control plane writes each decision
with its state change) and in batches; and what a checkpoint costs at 10,000 and 100,000
records. Incremental (the Merkle frontier kept with the last checkpoint: only the new records
are read and hashed) against a full recompute (every record read and hashed, as checkpoints
were made before), and a full `audit verify`, which always recomputes everything.

    python -m benchmarks.audit_bench
    AUDIT_BENCH_SIZES=10000,100000 AUDIT_BENCH_NEW=100 python -m benchmarks.audit_bench

An incremental checkpoint's cost should not grow with the log; a full one grows linearly.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from silkroute.audit import merkle
from silkroute.audit.log import verify
from silkroute.store.audit import SqlAuditStore, audited, checkpoint, record
from silkroute.store.db import Store, default_url, open_store

SIZES = [int(s) for s in os.environ.get("AUDIT_BENCH_SIZES", "10000,100000").split(",")]
NEW = int(os.environ.get("AUDIT_BENCH_NEW", "100"))  # records between two checkpoints
SINGLE = int(os.environ.get("AUDIT_BENCH_SINGLE", "1000"))  # one-record transactions timed
BATCH = 1000
REPEATS = 3
KEY = Ed25519PrivateKey.generate()
DETAIL = {
    "tenant": "acme",
    "datasets": ["vn-health"],
    "site": "singapore",
    "accelerator_type": "H100",
    "accelerators": 8,
    "nodes": ["sg-h100-0"],
}
console = Console(width=160)


@dataclass
class Row:
    size: int
    incremental_ms: float
    full_ms: float
    verify_s: float


def append(store: Store, count: int, start: int) -> None:
    with audited(store) as session:
        for i in range(start, start + count):
            record(session, "placement", "scheduler", f"job/{i}", DETAIL)


def full_checkpoint(store: Store) -> bytes:
    """What a checkpoint cost before the frontier: read and hash every record."""
    with audited(store) as session:
        return merkle.root([r.leaf() for r in SqlAuditStore(session).records()])


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(default_url(Path(tmp)))
        try:
            rows, single_rate, batch_rate = measure(store)
        finally:
            store.close()
    table = Table(
        "records",
        f"incremental checkpoint (+{NEW} records), ms",
        "full recompute, ms",
        "x incremental",
        "audit verify, s",
        title=(
            f"audit log on SQLite: {single_rate:,.0f} records/s appended one per transaction, "
            f"{batch_rate:,.0f} records/s in transactions of {BATCH:,}"
        ),
    )
    for row in rows:
        table.add_row(
            f"{row.size:,}",
            f"{row.incremental_ms:.1f}",
            f"{row.full_ms:.0f}",
            f"{row.full_ms / row.incremental_ms:.0f}",
            f"{row.verify_s:.1f}",
        )
    console.print(table)


def measure(store: Store) -> tuple[list[Row], float, float]:
    single = timed(lambda: [append(store, 1, i) for i in range(SINGLE)])
    size, batch_s = SINGLE, 0.0
    rows = []
    for target in sorted(SIZES):
        while size < target:
            step = min(BATCH, target - size)
            batch_s += timed(lambda size=size, step=step: append(store, step, size))
            size += step
        checkpoint(store, KEY)  # the frontier now stands at `target`
        incremental = []
        for _ in range(REPEATS):
            append(store, NEW, size)
            size += NEW
            incremental.append(timed(lambda: checkpoint(store, KEY)))
        full = min(timed(lambda: full_checkpoint(store)) for _ in range(REPEATS))

        def check() -> None:
            with store.session() as session:
                verify(SqlAuditStore(session), KEY.public_key())

        rows.append(Row(target, min(incremental) * 1000, full * 1000, timed(check)))
    filled = size - SINGLE - NEW * REPEATS * len(SIZES)
    return rows, SINGLE / single, filled / batch_s if batch_s else 0.0


if __name__ == "__main__":
    main()
