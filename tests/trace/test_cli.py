"""`silkroute trace ...` and `silkroute sim --trace X.jsonl`: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


OPENB_NODES = "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,2,T4\n"
OPENB_PODS = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,qos,creation_time,deletion_time,scheduled_time\n"
)


def _openb_folder(root: Path, pods: str) -> Path:
    folder = root / "openb"
    folder.mkdir()
    (folder / "openb_node_list_all_node.csv").write_text(OPENB_NODES)
    (folder / "openb_pod_list_default.csv").write_text(OPENB_PODS + pods)
    return folder


def test_a_convert_that_fails_midway_keeps_the_file_that_was_there(tmp_path: Path) -> None:
    # The second pod asks for more CPUs than a trace line may: it left half a trace in --out,
    # in place of the file there before.
    pods = "p0,1000,1024,1,500,LS,0,100,10\np1,9000000,1024,1,500,LS,0,100,10\n"
    folder = _openb_folder(tmp_path, pods)
    out = tmp_path / "trace.jsonl"
    out.write_text("kept\n")
    result = _run("trace", "convert", "--from", "openb", str(folder), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(  # one line: no blank line left by the progress bar
        "error: job 'p1': cpu_per_worker: Input should be less than or equal to 1024"
    )
    assert out.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["openb", "trace.jsonl"]


def test_a_convert_with_no_pod_that_ran_writes_nothing(tmp_path: Path) -> None:
    # It wrote "0 jobs", a trace that `trace validate` then refused.
    folder = _openb_folder(tmp_path, "p0,1000,1024,1,500,LS,0,,\n")
    out = tmp_path / "trace.jsonl"
    result = _run("trace", "convert", "--from", "openb", str(folder), "--out", str(out))
    assert result.exit_code == 2, result.output
    pods = folder / "openb_pod_list_default.csv"
    assert _said(result) == f"error: {pods}: no pod ran (all 1 have no run time): no job to write"
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "option", "target", "expected"),
    [
        (
            "a folder as --out was found only after the conversion",
            "--out",
            "{tmp}",
            "{tmp}: is a folder; give the file to write",
        ),
        (
            "a file above --out",
            "--out",
            "{tmp}/afile/t.jsonl",
            "{tmp}/afile/t.jsonl: {tmp}/afile is a file, not a folder",
        ),
        (
            "a file above --cluster-out",
            "--cluster-out",
            "{tmp}/afile/c.yaml",
            "{tmp}/afile/c.yaml: {tmp}/afile is a file, not a folder",
        ),
    ],
)
def test_a_convert_to_a_place_that_cannot_be_written_is_refused_first(
    tmp_path: Path, name: str, option: str, target: str, expected: str
) -> None:
    folder = _openb_folder(tmp_path, "p0,1000,1024,1,500,LS,0,100,10\n")
    (tmp_path / "afile").write_text("kept\n")
    # A good --out first: with --out as the option under test, the last one given counts.
    args = ["--out", str(tmp_path / "t.jsonl"), option, target.replace("{tmp}", str(tmp_path))]
    result = _run("trace", "convert", "--from", "openb", str(folder), *args)
    assert result.exit_code == 2, result.output
    assert _said(result) == f"error: {option} " + expected.replace("{tmp}", str(tmp_path))
    assert (tmp_path / "afile").read_text() == "kept\n"
    assert not (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("a negative seed said only 'expected non-negative integer'", ["--seed", "-1"], "'--seed'"),
        (
            "--throughputs was ignored for openb",
            ["--throughputs", "t.json"],
            "--throughputs: only for --from gavel",
        ),
        (
            "--pods was ignored for gavel",
            ["--from", "gavel", "--pods", "p.csv"],
            "--pods: only for --from openb",
        ),
    ],
)
def test_a_convert_option_that_does_not_apply_is_named(
    tmp_path: Path, name: str, args: list[str], expected: str
) -> None:
    folder = _openb_folder(tmp_path, "p0,1000,1024,1,500,LS,0,100,10\n")
    source = str(folder / "x.trace") if "gavel" in args else str(folder)
    out = tmp_path / "t.jsonl"
    result = _run("trace", "convert", "--from", "openb", source, "--out", str(out), *args)
    assert result.exit_code == 2, result.output
    assert expected in _said(result) and len(result.output.strip().splitlines()) == 1
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
