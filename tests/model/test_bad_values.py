"""Values a cluster file, a job or a trace line cannot mean: one error naming file, line and
field (they were accepted and bent, or a traceback later)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app

SITE = "name: t\nsites:\n  - name: a\n    country: CN\n    nodes:\n      - {NODE}\n"
H100 = "count: 2, accelerator: H100, accelerators: 8"


@pytest.mark.parametrize(
    ("name", "node", "extra", "expected"),
    [
        (
            "infinite CPUs were a traceback in sim",
            H100 + ", cpu: .inf",
            "",
            ":6: sites[0].nodes[0].cpu: Input should be a finite number (got inf)",
        ),
        (
            "NaN CPUs said 'greater than 0'",
            H100 + ", cpu: .nan",
            "",
            ":6: sites[0].nodes[0].cpu: Input should be a finite number (got nan)",
        ),
        (
            "accelerators without a type became CPU nodes",
            "count: 2, accelerators: 8",
            "",
            ":6: sites[0].nodes[0].accelerators: name their type in `accelerator` (e.g. H100)",
        ),
        (
            "a negative price",
            H100,
            "    price_per_accelerator_hour: {H100: -3}\n",
            ':7: sites[0].price_per_accelerator_hour["H100"]: '
            "Input should be greater than or equal to 0 (got -3)",
        ),
        (
            "a price past any real one, its type's name holding a space",
            H100,
            '    price_per_accelerator_hour: {"A100 80GB": 1.0e+300}\n',
            ':7: sites[0].price_per_accelerator_hour["A100 80GB"]: '
            "Input should be less than or equal to 1000000 (got 1e+300)",
        ),
        (
            "cores past any machine were an OverflowError when the cluster was built",
            H100 + ", cpu: 1.0e+300",
            "",
            ":6: sites[0].nodes[0].cpu: Input should be less than or equal to 100000 (got 1e+300)",
        ),
        (
            "a negative latency met every SLO",
            H100,
            "    latency_ms: {SG: -5}\n",
            ':7: sites[0].latency_ms["SG"]: Input should be greater than or equal to 0 (got -5)',
        ),
        (
            "a NaN latency",
            H100,
            "    latency_ms: {SG: .nan}\n",
            ':7: sites[0].latency_ms["SG"]: Input should be a finite number (got nan)',
        ),
    ],
)
def test_a_bad_cluster_value_is_named(
    tmp_path: Path, name: str, node: str, extra: str, expected: str
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(SITE.replace("{NODE}", "{" + node + "}") + extra)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {path}{expected}"), result.output
    assert len(result.output.splitlines()) == 1


def test_synthetic_load_on_a_cluster_without_accelerators_is_named(tmp_path: Path) -> None:
    # A ZeroDivisionError traceback: the arrival rate is the load over the accelerators.
    path = tmp_path / "cpu.yaml"
    path.write_text("name: c\nsites:\n  - {name: a, country: CN, nodes: [{count: 2}]}\n")
    result = CliRunner().invoke(
        app, ["sim", "--trace", "synthetic", "--cluster", str(path), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {path}: cluster 'c' has no accelerators to offer a load on\n"


def test_an_empty_job_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output == f"error: {path}: the file is empty (see docs/job-spec.md)\n"


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        (
            "a negative latency SLO waited forever",
            '{"name": "a", "tenant": "t", "kind": "inference", "submit_time_s": 0, '
            '"duration_s": 5, "latency_slo_ms": {"SG": -1}}',
            "line 1: latency_slo_ms: SG: must be > 0 ms (got -1)",
        ),
        (
            "NaN on the first line said 'not a JSONL trace'",
            '{"name": "a", "tenant": "t", "submit_time_s": NaN, "duration_s": 5}',
            "line 1: not valid JSON: NaN is not a number",
        ),
    ],
)
def test_a_bad_trace_value_is_named(tmp_path: Path, name: str, line: str, expected: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    result = CliRunner().invoke(app, ["trace", "validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {path}: {expected}\n"


def test_a_date_no_calendar_has_is_named_by_line(tmp_path: Path) -> None:
    # YAML reads 2024-02-30 as a date and fails to build it: a ValueError traceback, from
    # every file the one YAML reader reads (jobs, clusters, pipelines, rule files).
    path = tmp_path / "job.yaml"
    path.write_text("name: a\ntenant: t\nnote: ok\nwhen: 2024-02-30\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {path}:4: not valid YAML: not a date: day is out of range for month\n"
    )


def test_a_rule_file_with_a_date_no_calendar_has_is_one_line(tmp_path: Path) -> None:
    rules = Path(__file__).resolve().parents[2] / "silkroute" / "policy" / "rules"
    folder = tmp_path / "rules"
    folder.mkdir()
    text = (rules / "sg.yaml").read_text()
    (folder / "sg.yaml").write_text(
        text.replace("effective_from: 2014-07-02", "effective_from: 2014-13-02", 1)
    )
    line = text.splitlines().index("    effective_from: 2014-07-02") + 1
    result = CliRunner().invoke(app, ["policy", "validate", "--rules", str(folder)])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {folder / 'sg.yaml'}:{line}: not valid YAML: not a date: month must be in 1..12\n"
    )


def test_a_key_given_twice_in_a_yaml_file_is_named(tmp_path: Path) -> None:
    # The second `count` silently won: a cluster of 20 nodes where the file seemed to say 2.
    path = tmp_path / "cluster.yaml"
    path.write_text(SITE.replace("{NODE}", "{count: 2, count: 20}"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {path}: not valid YAML: found the key 'count' twice (line 6, column 20)\n"
    )


def test_a_key_given_twice_in_a_trace_line_is_named(tmp_path: Path) -> None:
    # The second duration silently won; here it is the bad one.
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"name": "a", "tenant": "t", "submit_time_s": 0, "duration_s": 5, "duration_s": -1}\n'
    )
    result = CliRunner().invoke(app, ["trace", "validate", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        result.output
        == f"error: {path}: line 1: not valid JSON: the key 'duration_s' is given twice\n"
    )


@pytest.mark.parametrize("text", ["jobs: []\n", "[]\n"])
def test_a_job_file_without_jobs_says_so(tmp_path: Path, text: str) -> None:
    # It printed nothing and exited 0.
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {path}: no jobs in the file (see docs/job-spec.md)\n"
