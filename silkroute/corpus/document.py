"""The unit of work that flows through every stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        # Before language ID runs every document counts as undetermined.
        return str(self.meta.get("lang", "und"))

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, **self.meta}

    @classmethod
    def from_record(
        cls, record: dict[str, Any], id_key: str = "id", text_key: str = "text"
    ) -> Document:
        if text_key not in record or not isinstance(record[text_key], str):
            raise ValueError(f"record has no string field {text_key!r}")
        meta = {k: v for k, v in record.items() if k not in (id_key, text_key)}
        return cls(id=str(record.get(id_key, "")), text=record[text_key], meta=meta)
