"""Shard writers (Parquet, JSONL.gz) and the manifest that records what they wrote."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from silkroute.corpus.document import Document

WRITER_FORMATS = ("parquet", "jsonl.gz")


def shard_name(shard: int, fmt: str) -> str:
    return f"shard-{shard:05d}.{fmt}"


def write_jsonl_gz(docs: Iterable[Document], path: Path, level: int = 6) -> int:
    count = 0
    # mtime=0 keeps the gzip bytes (and so the checksum) identical across reruns.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=level) as handle,
    ):
        for doc in docs:
            handle.write((json.dumps(doc.to_record(), ensure_ascii=False) + "\n").encode())
            count += 1
    return count


def write_parquet(docs: Iterable[Document], path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: dict[str, list[Any]] = {
        "id": [],
        "text": [],
        "lang": [],
        "lang_score": [],
        "meta_json": [],
    }
    for doc in docs:
        rows["id"].append(doc.id)
        rows["text"].append(doc.text)
        rows["lang"].append(doc.lang)
        rows["lang_score"].append(float(doc.meta.get("lang_score", 0.0)))
        rest = {k: v for k, v in doc.meta.items() if k not in ("lang", "lang_score")}
        rows["meta_json"].append(json.dumps(rest, ensure_ascii=False, sort_keys=True))
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("lang", pa.string()),
            ("lang_score", pa.float64()),
            ("meta_json", pa.string()),
        ]
    )
    pq.write_table(pa.table(rows, schema=schema), path, compression="zstd")
    return len(rows["id"])


def write_shard(docs: Iterable[Document], path: Path, fmt: str, level: int = 6) -> int:
    """level: gzip level of a jsonl.gz shard (1 for intermediates read back once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = write_parquet(docs, tmp) if fmt == "parquet" else write_jsonl_gz(docs, tmp, level)
    tmp.replace(path)  # atomic: a crashed run never leaves a half shard under the real name
    return count


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shard_entry(path: Path, documents: int) -> dict[str, Any]:
    return {
        "file": path.name,
        "documents": documents,
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }


def write_manifest(out_dir: Path, entries: list[dict[str, Any]]) -> Path:
    manifest = {
        "shards": entries,
        "documents": sum(e["documents"] for e in entries),
        "bytes": sum(e["bytes"] for e in entries),
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def _own_shard_problem(path: Path, line: int | None, reason: str, detail: str) -> None:
    """Our own shards may be empty (every document removed); anything else is a real error."""
    if reason != "empty_file":
        from silkroute.corpus.io.readers import raise_on_bad

        raise_on_bad(path, line, reason, detail)


def iter_shard_docs(path: Path) -> Iterator[Document]:
    from silkroute.corpus.io.readers import read_jsonl, read_parquet

    reader = read_parquet if path.suffix == ".parquet" else read_jsonl
    yield from reader(path, _own_shard_problem)
