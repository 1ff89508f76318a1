"""Readers turn a file into documents. The format comes from the file name unless forced.

A corpus run over millions of web documents must not stop on one bad record: a reader reports
each bad record or unreadable file to a `BadInput` sink (file, line, reason) and carries on. Text
that is not UTF-8 is decoded with the encoding charset-normalizer detects among the region's
legacy encodings, and the document records it (`source_encoding`).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Protocol, cast

from silkroute.corpus.document import Document
from silkroute.corpus.errors import CorpusError

# Legacy encodings of the region's text, in the order charset-normalizer should consider them:
# Western (Malay, Indonesian, Filipino in Latin-1/CP1252), Thai (TIS-620/CP874), Vietnamese,
# simplified and traditional Chinese.
LEGACY_ENCODINGS = ["utf_8", "cp1252", "cp874", "cp1258", "gb18030", "big5"]
_DETECT_SAMPLE = 1 << 20


class BadInput(Protocol):
    """Where readers report what they could not read; line is None for a whole file."""

    def __call__(self, path: Path, line: int | None, reason: str, detail: str) -> None: ...


class Counters(Protocol):
    def __call__(self, name: str) -> None: ...


Reader = Callable[[Path, BadInput, Counters], Iterator[Document]]


def raise_on_bad(path: Path, line: int | None, reason: str, detail: str) -> None:
    where = f"{path}:{line}" if line is not None else str(path)
    raise CorpusError(f"{where}: {reason.replace('_', ' ')}: {detail}")


def _ignore(name: str) -> None:
    return None


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def detect_encoding(sample: bytes) -> str | None:
    """The likeliest of LEGACY_ENCODINGS for bytes that are not UTF-8, or None."""
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample, cp_isolation=LEGACY_ENCODINGS).best()
    return None if best is None else str(best.encoding)


class _Decoder:
    """UTF-8 first; on the first failure, one encoding detected for the whole file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fallback: str | None = None
        self.detected = False

    def decode(self, raw: bytes) -> tuple[str, str]:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        if not self.detected:
            self.detected = True
            with _open_binary(self.path) as handle:
                self.fallback = detect_encoding(handle.read(_DETECT_SAMPLE))
        if self.fallback is None or self.fallback == "utf_8":
            raise UnicodeError("not UTF-8, and no other encoding fits")
        return raw.decode(self.fallback), self.fallback


_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _lines(path: Path, bad: BadInput) -> Iterator[tuple[int, bytes]]:
    """Numbered raw lines; a truncated or corrupt gzip ends the file with one bad record."""
    line_no = 0
    try:
        with _open_binary(path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                yield line_no, raw
    except _GZIP_ERRORS as exc:
        bad(path, line_no + 1, "truncated_gzip", f"{type(exc).__name__}: {exc}")
    except OSError as exc:
        bad(path, line_no + 1 if line_no else None, "unreadable_file", str(exc))


def read_jsonl(
    path: Path, bad: BadInput = raise_on_bad, count: Counters = _ignore
) -> Iterator[Document]:
    decoder = _Decoder(path)
    records = 0
    for line_no, raw in _lines(path, bad):
        if not raw.strip():
            continue
        records += 1
        try:
            line, encoding = decoder.decode(raw)
        except UnicodeError as exc:
            bad(path, line_no, "undecodable", str(exc))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad(path, line_no, "bad_json", exc.msg)
            continue
        if not isinstance(record, dict):
            bad(path, line_no, "no_text_field", f"a JSON {type(record).__name__}, not an object")
            continue
        try:
            doc = Document.from_record(record)
        except ValueError as exc:
            bad(path, line_no, "no_text_field", str(exc))
            continue
        if encoding != "utf-8":
            doc.meta["source_encoding"] = encoding
            count(f"decoded_as_{encoding}")
        yield Document(doc.id or f"{path.name}:{line_no}", doc.text, doc.meta)
    if records == 0:
        bad(path, None, "empty_file", "no records")


def read_text(
    path: Path, bad: BadInput = raise_on_bad, count: Counters = _ignore
) -> Iterator[Document]:
    """A plain text file is one document; its id is the file name."""
    chunks: list[bytes] = []
    for _, raw in _lines(path, bad):
        chunks.append(raw)
    data = b"".join(chunks)
    if not data.strip():
        bad(path, None, "empty_file", "no text")
        return
    try:
        text, encoding = _Decoder(path).decode(data)
    except UnicodeError as exc:
        bad(path, None, "undecodable", str(exc))
        return
    meta: dict[str, object] = {"source": str(path.name)}
    if encoding != "utf-8":
        meta["source_encoding"] = encoding
        count(f"decoded_as_{encoding}")
    yield Document(id=path.name, text=text, meta=meta)


def read_parquet(
    path: Path, bad: BadInput = raise_on_bad, count: Counters = _ignore
) -> Iterator[Document]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        bad(path, None, "unreadable_file", str(exc).splitlines()[0])
        return
    if "text" not in table.column_names:
        bad(path, None, "no_text_field", "parquet file has no 'text' column")
        return
    if table.num_rows == 0:
        bad(path, None, "empty_file", "no rows")
    for row_no, record in enumerate(table.to_pylist()):
        meta_json = record.pop("meta_json", None)
        try:
            doc = Document.from_record(record)
        except ValueError as exc:
            bad(path, row_no, "no_text_field", str(exc))
            continue
        if meta_json:
            doc.meta.update(json.loads(meta_json))
        yield Document(doc.id or f"{path.name}:{row_no}", doc.text, doc.meta)


def read_warc(
    path: Path, bad: BadInput = raise_on_bad, count: Counters = _ignore
) -> Iterator[Document]:
    """HTML responses in a WARC file, with the main text extracted by trafilatura."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    try:
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
    except (ArchiveLoadFailed, *_GZIP_ERRORS, OSError) as exc:
        bad(path, None, "unreadable_file", f"{type(exc).__name__}: {exc}")


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


def read_file(
    path: Path, fmt: str = "auto", bad: BadInput = raise_on_bad, count: Counters = _ignore
) -> Iterator[Document]:
    name = format_of(path) if fmt == "auto" else fmt
    if name is None or name not in READERS:
        raise CorpusError(f"input.format: cannot tell the format of {path}; valid: {list(READERS)}")
    yield from READERS[name](path, bad, count)
