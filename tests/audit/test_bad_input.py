"""`silkroute audit` on odd files and paths: one line naming the file and line, never a
traceback (a bad byte is a tampered log, exit 1; a bad option or path is exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.audit.log import new_key, write_keys
from silkroute.cli import app
from tests.audit.test_tamper import write_log


@pytest.mark.parametrize(
    ("name", "garble", "expected"),
    [
        ("a Latin-1 byte was a UnicodeDecodeError", b'{"a": "caf\xe9"}\n', "not UTF-8 text"),
        (
            "a 5,000-digit number was a ValueError traceback",
            b'{"n": ' + b"9" * 5000 + b"}\n",
            "not valid JSON (Exceeds the limit (4300 digits)",
        ),
    ],
)
def test_a_bad_line_of_a_log_is_named(
    tmp_path: Path, name: str, garble: bytes, expected: str
) -> None:
    log = write_log(tmp_path / "audit.jsonl")
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:3]) + garble + b"".join(lines[3:]))
    pub = write_keys(new_key(), tmp_path / "k")
    result = CliRunner().invoke(
        app, ["audit", "verify", "--log", str(log), "--public-key", str(pub)]
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"tampered: {log}:4: {expected}"), result.output
    assert len(result.output.splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        (
            "a log below a file was a FileExistsError traceback",
            [
                "append",
                "--log",
                "{tmp}/afile/log.jsonl",
                "--kind",
                "admin",
                "--actor",
                "a",
                "--subject",
                "s",
            ],
            "error: --log: cannot write {tmp}/afile/log.jsonl: ",
        ),
        (
            "a folder as the log was an IsADirectoryError traceback",
            ["append", "--log", "{tmp}", "--kind", "admin", "--actor", "a", "--subject", "s"],
            "error: --log: cannot write {tmp}: Is a directory",
        ),
        (
            "NaN in the detail was written to the log",
            [
                "append",
                "--log",
                "{tmp}/log.jsonl",
                "--kind",
                "admin",
                "--actor",
                "a",
                "--subject",
                "s",
                "--detail",
                '{"n": NaN}',
            ],
            "error: --detail/--kind: NaN is not a JSON number",
        ),
        (
            "a key below a file was a traceback",
            ["keygen", "--out", "{tmp}/afile/key"],
            "error: --out: cannot write {tmp}/afile/key: ",
        ),
    ],
)
def test_a_bad_path_or_option_is_one_line(
    tmp_path: Path, name: str, args: list[str], expected: str
) -> None:
    (tmp_path / "afile").write_text("kept\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(app, ["audit", *argv])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(expected.replace("{tmp}", str(tmp_path))), result.output
    assert len(result.output.splitlines()) == 1
    assert (tmp_path / "afile").read_text() == "kept\n"
    assert not (tmp_path / "log.jsonl").exists()
