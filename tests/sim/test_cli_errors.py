"""Errors are one line whatever the terminal width (a long path must not wrap at 80 columns)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app

LONG = "a-folder-name-long-enough-that-any-error-naming-it-passes-eighty-columns"


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("validate a missing cluster file", ["validate", "{dir}/missing.yaml"], "missing.yaml"),
        (
            "sim with a missing cluster file",
            ["sim", "--trace", "synthetic", "--cluster", "{dir}/c.yaml"],
            "c.yaml",
        ),
        ("packing without the pod list", ["sim", "packing", "--trace", "{dir}"], "{dir}"),
        ("trace validate of a missing file", ["trace", "validate", "{dir}/x.jsonl"], "x.jsonl"),
    ],
)
def test_an_error_is_one_unwrapped_line_at_80_columns(
    tmp_path: Path, name: str, args: list[str], expected: str
) -> None:
    folder = tmp_path / LONG
    folder.mkdir()
    argv = [a.replace("{dir}", str(folder)) for a in args]
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "80", "TERM": "xterm"})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert expected.replace("{dir}", str(folder)) in lines[0]
    assert len(lines[0]) > 80  # long enough that a wrap would have split it
