"""Readers turn a file into documents. The format comes from the file name unless forced."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from silkroute.corpus.document import Document
from silkroute.corpus.errors import CorpusError

Reader = Callable[[Path], Iterator[Document]]


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[Document]:
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                doc = Document.from_record(record)
            except (json.JSONDecodeError, ValueError, AttributeError) as exc:
                raise CorpusError(f"{path}:{line_no}: bad JSONL record: {exc}") from None
            yield Document(doc.id or f"{path.name}:{line_no}", doc.text, doc.meta)


def read_text(path: Path) -> Iterator[Document]:
    """A plain text file is one document; its id is the file name."""
    with _open_text(path) as handle:
        yield Document(id=path.name, text=handle.read(), meta={"source": str(path.name)})


def read_parquet(path: Path) -> Iterator[Document]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if "text" not in table.column_names:
        raise CorpusError(f"{path}: parquet file has no 'text' column")
    for row_no, record in enumerate(table.to_pylist()):
        meta_json = record.pop("meta_json", None)
        doc = Document.from_record(record)
        if meta_json:
            doc.meta.update(json.loads(meta_json))
        yield Document(doc.id or f"{path.name}:{row_no}", doc.text, doc.meta)


def read_warc(path: Path) -> Iterator[Document]:
    """HTML responses in a WARC file, with the main text extracted by trafilatura."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            content_type = record.http_headers.get_header("Content-Type") or ""
            if "html" not in content_type:
                continue
            html = record.content_stream().read().decode("utf-8", errors="replace")
            text = trafilatura.extract(html, include_comments=False) or ""
            if not text.strip():
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            record_id = record.rec_headers.get_header("WARC-Record-ID") or url
            yield Document(id=record_id, text=text, meta={"url": url})


READERS: dict[str, Reader] = {
    "jsonl": read_jsonl,
    "text": read_text,
    "parquet": read_parquet,
    "warc": read_warc,
}

_SUFFIXES: list[tuple[str, str]] = [
    (".jsonl.gz", "jsonl"),
    (".jsonl", "jsonl"),
    (".json.gz", "jsonl"),
    (".txt", "text"),
    (".txt.gz", "text"),
    (".parquet", "parquet"),
    (".warc.gz", "warc"),
    (".warc", "warc"),
]


def format_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    return None


def list_input_files(paths: list[Path], fmt: str) -> list[Path]:
    """Every readable file under the given files/folders, sorted so shards are stable."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise CorpusError(f"input.paths: {path} does not exist")
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found.extend(p for p in candidates if fmt != "auto" or format_of(p) is not None)
    if not found:
        raise CorpusError(f"input.paths: no readable files found in {[str(p) for p in paths]}")
    return found


def read_file(path: Path, fmt: str = "auto") -> Iterator[Document]:
    name = format_of(path) if fmt == "auto" else fmt
    if name is None or name not in READERS:
        raise CorpusError(f"input.format: cannot tell the format of {path}; valid: {list(READERS)}")
    try:
        yield from READERS[name](path)
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc}") from None
