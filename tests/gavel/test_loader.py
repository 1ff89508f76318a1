"""Gavel's trace format: run times per type equal total_steps / measured steps per second."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from silkroute.model.errors import SpecError
from silkroute.sim.gavel import load_gavel_trace, load_throughputs
from silkroute.sim.workloads import load_workload

CMD = "cd %s/x && python3 main.py"


def _line(job_type: str, steps: int, arrival: float, scale: int) -> str:
    return "\t".join([job_type, CMD, "--num_steps", "1", str(steps), f"{arrival:f}", str(scale)])


def _write(tmp_path: Path, lines: list[str]) -> Path:
    rates = {
        "v100": {"('A', 1)": {"null": 4.0}, "('A', 2)": {"null": 10.0}, "('B', 1)": {"null": 2.0}},
        "p100": {"('A', 1)": {"null": 2.0}, "('A', 2)": {"null": 5.0}, "('B', 1)": {"null": 1.0}},
        "k80": {"('A', 1)": {"null": 0.5}, "('A', 2)": {"null": 1.0}, "('B', 1)": {"null": 0.0}},
    }
    (tmp_path / "simulation_throughputs.json").write_text(json.dumps(rates))
    trace = tmp_path / "small.trace"
    trace.write_text("\n".join(lines) + "\n")
    return trace


def test_run_times_are_steps_over_rate(tmp_path: Path) -> None:
    trace = _write(tmp_path, [_line("A", 1000, 0, 1), _line("A", 500, 30.5, 2)])
    jobs, skips = load_gavel_trace(trace)
    assert skips.skipped == 0 and skips.total_lines == 2
    first, second = jobs
    assert first.duration_s == {"V100": 250.0, "P100": 500.0, "K80": 2000.0}
    assert second.duration_s == {"V100": 50.0, "P100": 100.0, "K80": 500.0}
    assert (second.workers, second.demand.gpu_slots, second.submit_time) == (2, 1, 30.5)


def test_missing_pairs_skipped_and_zero_rate_types_excluded(tmp_path: Path) -> None:
    trace = _write(
        tmp_path,
        [_line("A", 10, 0, 1), _line("A", 10, 1, 4), _line("C", 10, 2, 1), _line("B", 8, 3, 1)],
    )
    jobs, skips = load_gavel_trace(trace)
    assert skips.total_lines == 4 and skips.skipped == 2
    assert skips.by_reason == {"no-throughput:v100:('A', 4)": 1, "no-throughput:v100:('C', 1)": 1}
    job_b = jobs[-1]
    # B has a zero rate on K80 (Gavel: cannot run there), so K80 is not among its types.
    assert job_b.duration_s == {"V100": 4.0, "P100": 8.0}
    assert job_b.accelerator_types == ("V100", "P100")


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["A", CMD, "-n", "1", "lots", "0", "1"], "small.trace:2: field total_steps"),
        (["A", CMD, "-n", "1", "10", "soon", "1"], "small.trace:2: field arrival_time_s"),
        (["A", CMD, "-n", "1", "10", "0", "1.5"], "small.trace:2: field scale_factor"),
        (["A", CMD, "10", "0", "1"], "small.trace:2: expected 7 tab-separated columns"),
        # These crashed int() (`cannot convert float NaN`, an OverflowError traceback for inf)
        # or cut 1.5 steps to 1.
        (
            ["A", CMD, "-n", "1", "nan", "0", "1"],
            "small.trace:2: field total_steps: must be a finite",
        ),
        (
            ["A", CMD, "-n", "1", "inf", "0", "1"],
            "small.trace:2: field total_steps: must be a finite",
        ),
        (
            ["A", CMD, "-n", "1", "10", "nan", "1"],
            "small.trace:2: field arrival_time_s: must be a finite",
        ),
        (
            ["A", CMD, "-n", "1", "10", "0", "inf"],
            "small.trace:2: field scale_factor: must be a finite",
        ),
        (
            ["A", CMD, "-n", "1", "1.5", "0", "1"],
            "small.trace:2: field total_steps: must be a whole number > 0",
        ),
        (
            ["A", CMD, "-n", "1", "1e308", "0", "1"],
            "small.trace:2: field total_steps: .* no finite run time",
        ),
    ],
)
def test_bad_lines_name_line_and_field(tmp_path: Path, cells: list[str], message: str) -> None:
    trace = _write(tmp_path, [_line("A", 10, 0, 1), "\t".join(cells)])
    with pytest.raises(SpecError, match=message):
        load_gavel_trace(trace)


def test_bad_throughput_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"v100": {"not a key": {"null": 1}}}')
    with pytest.raises(SpecError, match="v100"):
        load_throughputs(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "a NaN rate was read as 'does not run'",
            '{"v100": {"(\'A\', 1)": {"null": NaN}}}',
            "t.json: not JSON: NaN is not a number",
        ),
        (
            "a negative rate too",
            '{"v100": {"(\'A\', 1)": {"null": -2}}}',
            "null: must be >= 0 (got -2)",
        ),
        (
            "true was a rate of 1",
            '{"v100": {"(\'A\', 1)": {"null": true}}}',
            "expected a 'null' rate",
        ),
        (
            "deep nesting was a RecursionError",
            "[" * 100_000 + "]" * 100_000,
            "t.json: not JSON: nested too deeply",
        ),
    ],
)
def test_a_bad_rate_is_named(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_throughputs(path, ("v100",))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "Latin-1 said only 'utf-8 codec can't decode'",
            b"\n\xe9\n",
            "small.trace:2: not UTF-8 text",
        ),
        ("UTF-16", "A\tx".encode("utf-16"), "small.trace:1: not UTF-8 text"),
        ("an empty trace converted to an empty one", b"", "small.trace: no jobs (empty)"),
        (
            "no job with a throughput",
            _line("C", 10, 0, 1).encode(),
            "no jobs (all 1 skipped for want of a throughput)",
        ),
    ],
)
def test_a_trace_that_gives_no_jobs_is_named(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    trace = _write(tmp_path, [])
    trace.write_bytes(data)
    with pytest.raises(SpecError) as caught:
        load_gavel_trace(trace)
    assert message in str(caught.value)


def test_a_byte_order_mark_is_not_part_of_the_first_job_type(tmp_path: Path) -> None:
    # The first job was skipped: its type read '\ufeffA', which has no throughput.
    trace = _write(tmp_path, [_line("A", 1000, 0, 1)])
    trace.write_bytes(b"\xef\xbb\xbf" + trace.read_bytes())
    jobs, skips = load_gavel_trace(trace)
    assert len(jobs) == 1 and skips.skipped == 0


def test_a_missing_trace_is_named_not_its_throughputs(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing\.trace: cannot read"):
        load_gavel_trace(tmp_path / "missing.trace")


def test_shared_trace_matches_hand_computed(gavel_dir: Path) -> None:
    jobs, skips = load_gavel_trace(gavel_dir / "seed1-103959.trace")
    by_line = {j.name.split(":")[0]: j for j in jobs}
    # Line 1: ResNet-18 (batch size 256) x1, 16,589,356 steps; rates from the JSON's "null".
    first = by_line["line 1"]
    assert first.duration_s is not None
    assert first.duration_s["V100"] == pytest.approx(16589356 / 10.300256501360458)
    assert first.duration_s["P100"] == pytest.approx(16589356 / 7.72278472419796)
    assert first.duration_s["K80"] == pytest.approx(16589356 / 0.8855799947494726)
    # Line 2: LM (batch size 40) x4, arriving at 219,316 s.
    second = by_line["line 2"]
    assert (second.workers, second.submit_time) == (4, 219316.0)
    assert second.duration_s == pytest.approx(
        {
            "V100": 128556012 / 96.0312451685392,
            "P100": 128556012 / 76.05171457103407,
            "K80": 128556012 / 22.985588987864023,
        }
    )
    # Line 27: ResNet-50 (batch size 128) x4 has a zero K80 rate: V100 and P100 only.
    assert set(by_line["line 27"].duration_s or {}) == {"V100", "P100"}
    assert skips.total_lines == 986 and skips.skipped == 130
    assert len(jobs) == 986 - 130


def test_workload_branch_uses_gavel_cluster(gavel_dir: Path) -> None:
    workload = load_workload(str(gavel_dir))  # the folder: its largest trace
    assert workload.name == "gavel-seed1-11cb48"
    types: dict[str | None, int] = {}
    for node in workload.nodes:
        assert node.accelerators == 1
        types[node.accelerator] = types.get(node.accelerator, 0) + 1
    assert types == {"V100": 36, "P100": 36, "K80": 36}
    assert workload.notes["jobs_skipped"] == 158.0
