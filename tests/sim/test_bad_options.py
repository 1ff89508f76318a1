"""`silkroute sim` options out of range: one `error:` line naming the option, exit 2, before
any simulation runs (they hung, crashed after the run, or were silently bent)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "examples" / "traces" / "small.jsonl"
CLUSTER = REPO / "examples" / "clusters" / "small.yaml"


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("a NaN load never finished", ["--load", "nan"], "--load: must be a finite number > 0"),
        ("an infinite load ran", ["--load", "inf"], "--load: must be a finite number > 0"),
        ("a zero load", ["--load", "0"], "--load: must be a finite number > 0 (got 0)"),
        ("zero sites were taken as one", ["--sites", "0"], "--sites: must be >= 1 (got 0)"),
        ("a negative job count kept all but the last", ["--jobs", "-3"], "--jobs: must be >= 1"),
        ("zero jobs ran nothing", ["--jobs", "0"], "--jobs: must be >= 1 (got 0)"),
        ("a shrink above one", ["--shrink", "2"], "--shrink: must be in (0, 1] (got 2)"),
        ("a NaN shrink", ["--shrink", "nan"], "--shrink: must be in (0, 1] (got nan)"),
        ("a negative seed", ["--seed", "-1"], "--seed: must be >= 0 (got -1)"),
        ("NaN estimates crashed the run", ["--estimates", "xnan"], "--estimates: expected exact"),
        ("zero estimates planned with no time", ["--estimates", "x0"], "--estimates: expected"),
        ("a word for estimates", ["--estimates", "bogus"], "(got 'bogus')"),
        ("a negative step interval", ["--step-interval", "-1"], "--step-interval: must be a"),
        ("a NaN step interval", ["--step-interval", "nan"], "--step-interval: must be a"),
        ("a list of no policies ran none", ["--policy", ","], "--policy: no policy in ','"),
        ("an empty placement", ["--policy", "fifo:easy:"], "'fifo:easy:': PLACEMENT empty"),
        ("an empty order", ["--policy", ":easy"], "policy ':easy': ORDER empty"),
        ("empty middle parts", ["--policy", "fifo::"], "BACKFILL and PLACEMENT empty"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(
    tmp_path: Path, name: str, extra: list[str], expected: str
) -> None:
    out = tmp_path / "out"
    args = ["sim", "--trace", str(TRACE), "--cluster", str(CLUSTER), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--policy", "fifo", *extra])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert expected in lines[0]
    assert not out.exists()  # refused before anything ran or was written


@pytest.mark.parametrize("below", ["", "sub"])
def test_an_out_that_is_a_file_is_refused_before_the_run(tmp_path: Path, below: str) -> None:
    # It was a FileExistsError traceback after the simulation, its results lost.
    afile = tmp_path / "results.txt"
    afile.write_text("kept\n")
    out = afile / below if below else afile
    args = ["sim", "--trace", str(TRACE), "--cluster", str(CLUSTER), "--policy", "fifo"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --out {out}: ")
    assert len(result.output.splitlines()) == 1  # no progress bar: nothing ran
    assert afile.read_text() == "kept\n"


def test_good_estimates_still_parse() -> None:
    from silkroute.sim.scaling import estimate_factor

    assert [estimate_factor(e) for e in ("exact", "none", "x1.5", "2")] == [1.0, None, 1.5, 2.0]


def test_a_cluster_with_an_openb_folder_is_refused_not_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "openb"
    folder.mkdir()
    (folder / "openb_node_list_all_node.csv").write_text("sn,cpu_milli,memory_mib,gpu,model\n")
    args = ["sim", "--trace", str(folder), "--cluster", str(CLUSTER), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        f"error: --cluster: an openb trace runs on its own nodes ({folder})"
    )


@pytest.mark.parametrize(
    ("trace", "default"),
    [
        ("synthetic", "examples/clusters/asean-5000pf.yaml"),
        ("x.trace", "examples/clusters/gavel-36x3.yaml"),
    ],
)
def test_a_default_cluster_out_of_reach_says_where_it_is_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trace: str, default: str
) -> None:
    # Run from outside the repository it said only "cannot read cluster file".
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sim", "--trace", trace, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: --cluster: the default cluster {default} is not here (it is relative to the "
        "repository's root); run from there, or give --cluster\n"
    )


def test_a_trace_file_of_no_known_kind_is_named_itself(tmp_path: Path) -> None:
    # It named the folder the file is in: "examples/traces: not an openb trace folder".
    trace = tmp_path / "trace.jsonl.gz"
    trace.write_bytes(b"\x1f\x8b")
    result = CliRunner().invoke(app, ["sim", "--trace", str(trace), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {trace}: not a file of an openb trace folder (no openb_node_list_all_node.csv)\n"
    )


def test_a_jsonl_trace_in_capitals_is_a_jsonl_trace(tmp_path: Path) -> None:
    trace = tmp_path / "SMALL.JSONL"
    trace.write_bytes(TRACE.read_bytes())
    args = ["sim", "--trace", str(trace), "--cluster", str(CLUSTER), "--policy", "fifo"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "results.json").exists()


def test_jobs_that_can_never_run_are_reported_not_a_silent_table_of_dashes(tmp_path: Path) -> None:
    # 4,096 workers of 8 devices: more than the whole cluster. The table showed dashes and
    # matplotlib warned "No artists with labels"; only results.json counted the job.
    trace = tmp_path / "never.jsonl"
    trace.write_text(
        '{"name": "b", "tenant": "t", "submit_time_s": 0, "duration_s": 100, "workers": 4096, '
        '"accelerators_per_worker": 8}\n'
    )
    args = ["sim", "--trace", str(trace), "--cluster", str(CLUSTER), "--policy", "fifo,las"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # matplotlib's warning fails the run
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "warning: jobs that can never run on this cluster were dropped (fifo 1, las 1)" in said
