"""`make bench`: every benchmark, one after the other, each printing its own table."""

from __future__ import annotations

import time

from benchmarks import (
    api_bench,
    audit_bench,
    corpus_bench,
    gavel_bench,
    packing_bench,
    policy_bench,
    retire_check_bench,
    scheduler_bench,
)

BENCHMARKS = [
    ("scheduler and simulator", scheduler_bench.main),
    ("FGD packing experiment", packing_bench.main),
    ("Gavel heterogeneous traces", gavel_bench.main),
    ("ASEAN corpus pipeline", corpus_bench.main),
    ("data governance cost", policy_bench.main),
    ("audit log appends and checkpoints", audit_bench.main),
    ("dataset retire's in-use check", retire_check_bench.main),
    ("control plane API", api_bench.main),
]


def main() -> None:
    for name, run in BENCHMARKS:
        started = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        run()
        print(f"=== {name}: {time.perf_counter() - started:.0f} s ===", flush=True)


if __name__ == "__main__":
    main()
