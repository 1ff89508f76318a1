"""Where audit records live. The log needs only this protocol; the control plane adds a
database store beside these two."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from silkroute.audit.records import AuditError, AuditRecord, Checkpoint


class AuditStore(Protocol):
    def append(self, record: AuditRecord) -> None: ...

    def records(self) -> Iterator[AuditRecord]:
        """Every record in stored order (oldest first)."""
        ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def checkpoints(self) -> list[Checkpoint]: ...


class MemoryAuditStore:
    def __init__(self) -> None:
        self.rows: list[AuditRecord] = []
        self.heads: list[Checkpoint] = []

    def append(self, record: AuditRecord) -> None:
        self.rows.append(record)

    def records(self) -> Iterator[AuditRecord]:
        return iter(list(self.rows))

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.heads.append(checkpoint)

    def checkpoints(self) -> list[Checkpoint]:
        return list(self.heads)


class JsonlAuditStore:
    """One JSON object a line: `"type": "record"` or `"type": "checkpoint"`. Appends are
    flushed and fsync'd (`durable`) before `append` returns."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable

    def _write(self, row: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            if self.durable:
                os.fsync(out.fileno())

    def append(self, record: AuditRecord) -> None:
        self._write({"type": "record", **record.to_json()})

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._write({"type": "checkpoint", **checkpoint.to_json()})

    def _rows(self, wanted: str) -> Iterator[tuple[str, dict[str, object]]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as rows:  # decoded per line: a bad byte names its line
            for number, data in enumerate(rows, start=1):
                where = f"{self.path}:{number}"
                try:
                    line = data.decode("utf-8")
                except UnicodeDecodeError:  # it was a traceback
                    raise AuditError(f"{where}: not UTF-8 text") from None
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise AuditError(f"{where}: not valid JSON ({exc.msg})") from None
                except RecursionError:  # the parser recurses per level of nesting
                    raise AuditError(f"{where}: not valid JSON (nested too deeply)") from None
                except ValueError as exc:  # a number past Python's digit limit: a traceback
                    raise AuditError(f"{where}: not valid JSON ({exc})") from None
                kind = raw.get("type") if isinstance(raw, dict) else None
                if kind not in ("record", "checkpoint"):
                    raise AuditError(f"{where}: type must be 'record' or 'checkpoint'")
                if kind == wanted:
                    yield where, raw

    def records(self) -> Iterator[AuditRecord]:
        for where, raw in self._rows("record"):
            yield AuditRecord.from_json(raw, where)

    def checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.from_json(raw, where) for where, raw in self._rows("checkpoint")]
