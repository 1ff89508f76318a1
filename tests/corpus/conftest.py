"""Shared fixtures: the UDHR development texts in ../shared/data (skip when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def udhr_dir() -> Path:
    if not (DATA_DIR / "udhr").is_dir():
        pytest.skip(f"UDHR texts not found at {DATA_DIR / 'udhr'} (shared data absent)")
    return DATA_DIR


def paragraphs(data_dir: Path, code: str, per_doc: int = 4) -> list[str]:
    lines = [x.strip() for x in (data_dir / "udhr" / f"{code}.txt").read_text().splitlines()]
    lines = [x for x in lines if x]
    return ["\n".join(lines[i : i + per_doc]) for i in range(0, len(lines) - per_doc, per_doc)]
