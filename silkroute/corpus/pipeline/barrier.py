"""The driver's step between segments: one dedup decision over the fingerprints of all shards."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np

from silkroute.corpus.pipeline.layout import Layout, Segment


def _prints(work: Path, shard: int) -> dict[str, np.ndarray]:
    """One shard's fingerprint arrays, memory-mapped: the driver never holds them all."""
    prefix = f"fp-{shard:05d}-"
    return {
        p.name[len(prefix) : -len(".npy")]: np.load(p, mmap_mode="r")
        for p in sorted(work.glob(f"{prefix}*.npy"))
        if not p.name.endswith(".tmp.npy")
    }


def _gather(arrays: list[np.ndarray], offsets: np.ndarray, index: np.ndarray) -> list[str]:
    shard_of = np.searchsorted(offsets, index, side="right") - 1
    return [str(arrays[s][i - offsets[s]]) for s, i in zip(shard_of, index, strict=True)]


def resolve_barrier(layout: Layout, seg: Segment, shards: int) -> None:
    """Decide over all shards; write per shard which positions survive, and every removed
    document with the document kept in its place (`dedup/<stage>.removed.jsonl.gz`)."""
    assert seg.barrier is not None
    work = layout.work(seg.index)
    done = work / "decisions.json"
    if done.exists():
        return
    start = time.perf_counter()
    prints = [_prints(work, s) for s in range(shards)]
    decisions = seg.barrier.decide(prints)
    counts = [len(p["id"]) for p in prints]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sizes = decisions.cluster_sizes
    for s in range(shards):
        part = slice(int(offsets[s]), int(offsets[s + 1]))
        tmp = work / f"keep-{s:05d}.tmp.npz"
        np.savez(tmp, first=offsets[s], rep=decisions.rep[part], size=sizes[part])
        tmp.replace(work / f"keep-{s:05d}.npz")
    removed = np.flatnonzero(decisions.rep != np.arange(decisions.rep.size))
    ids = [p["id"] for p in prints]
    langs = [p["lang"] for p in prints]
    removed_path = layout.removed(seg.barrier.name)
    removed_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_removed = removed_path.with_name(removed_path.name + ".tmp")
    with gzip.open(tmp_removed, "wt", encoding="utf-8") as handle:
        for lo in range(0, removed.size, 10_000):
            chunk = removed[lo : lo + 10_000]
            rows = zip(
                _gather(ids, offsets, chunk),
                _gather(langs, offsets, chunk),
                _gather(ids, offsets, decisions.rep[chunk]),
                decisions.similarity[chunk].tolist(),
                strict=True,
            )
            for doc_id, lang, kept_id, similarity in rows:
                record = {"id": doc_id, "lang": lang, "kept_id": kept_id}
                record["similarity"] = round(similarity, 4)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp_removed.replace(removed_path)
    info = {
        "seconds": round(time.perf_counter() - start, 4),
        "documents": int(decisions.rep.size),
        "removed": int(removed.size),
        "candidate_pairs": decisions.candidate_pairs,
        "verified_pairs": decisions.verified_pairs,
        "largest_cluster": int(sizes.max()) if sizes.size else 0,
        "cluster_sizes": decisions.size_histogram(),
    }
    done.write_text(json.dumps(info))
