"""`silkroute trace ...` and `silkroute sim --trace X.jsonl`: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from silkroute.cli import app
from tests.trace.conftest import REPO, SMALL_CLUSTER, SMALL_TRACE

runner = CliRunner()


def _run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def _said(result: Result) -> str:
    """Everything the command printed (stdout and stderr), with wrapping undone."""
    return " ".join(result.output.split())


def test_validate_good_trace() -> None:
    result = _run("trace", "validate", str(SMALL_TRACE), "--cluster", str(SMALL_CLUSTER))
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert "12 jobs" in said
    assert "submitted over 2,400 s" in said
    assert "H100 5" in said
    assert "every job can run on cluster small" in said


def test_validate_bad_trace_exits_2_naming_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"name": "a", "tenant": "t", "submit_time_s": 0, "duration_s": 1}\n'
        '{"name": "b", "tenant": "t", "submit_time_s": -3, "duration_s": 1}\n'
    )
    result = _run("trace", "validate", str(bad))
    assert result.exit_code == 2
    assert "line 2: submit_time_s:" in _said(result)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_not_a_trace_and_missing(tmp_path: Path) -> None:
    csv = tmp_path / "pods.csv"
    csv.write_text("name,cpu_milli\np,1000\n")
    result = _run("trace", "validate", str(csv))
    assert result.exit_code == 2
    assert "not a JSONL trace" in _said(result)
    result = _run("trace", "validate", str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 2
    assert "cannot read trace" in _said(result)


def test_a_line_nested_too_deeply_is_named_not_a_traceback(tmp_path: Path) -> None:
    # The JSON parser recursed past Python's limit: a RecursionError traceback.
    trace = tmp_path / "deep.jsonl"
    trace.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    result = _run("trace", "validate", str(trace))
    assert result.exit_code == 2, result.output
    assert "line 1" in _said(result) and "nested too deeply" in _said(result)


def test_schema_prints_the_committed_schema() -> None:
    result = _run("trace", "schema")
    assert result.exit_code == 0
    committed = (REPO / "docs" / "trace.schema.json").read_text(encoding="utf-8")
    assert json.loads(result.stdout) == json.loads(committed)


def test_convert_bad_source_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = _run("trace", "convert", "--from", "openb", str(tmp_path), "--out", str(out))
    assert result.exit_code == 2
    assert "not an openb trace folder" in _said(result)
    result = _run("trace", "convert", "--from", "gavel", str(tmp_path), "--out", str(out))
    assert result.exit_code == 2
    assert "not a folder" in _said(result)
    result = _run("trace", "convert", "--from", "philly", str(tmp_path), "--out", str(out))
    assert result.exit_code == 2
    assert not out.exists()


def test_sim_runs_the_small_example(tmp_path: Path) -> None:
    out = tmp_path / "small"
    result = _run(
        "sim", "--trace", str(SMALL_TRACE), "--cluster", str(SMALL_CLUSTER),
        "--policy", "fifo,las", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert set(results["policies"]) == {"fifo", "las"}
    assert results["workload"]["name"] == "small"


def test_sim_reports_a_type_no_node_has(tmp_path: Path) -> None:
    trace = tmp_path / "k80.jsonl"
    trace.write_text(
        '{"name": "a", "tenant": "t", "submit_time_s": 0, "duration_s": 1}\n'
        '{"name": "b", "tenant": "t", "submit_time_s": 0, "duration_s": {"K80": 9}}\n'
    )
    result = _run("sim", "--trace", str(trace), "--cluster", str(SMALL_CLUSTER), "--out", "x")
    assert result.exit_code == 2
    assert "line 2: duration_s: no node of cluster 'small' has any of K80" in _said(result)
    assert not Path("x").exists()
