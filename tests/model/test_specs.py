"""Bad input gets an error naming the field and the reason; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import load_cluster
from silkroute.model.errors import SpecError
from silkroute.model.job import load_jobs, parse_job
from silkroute.model.workload import Demand
from silkroute.scheduler.job import job_from_spec

GOOD = {"name": "llm-pretrain", "tenant": "vn-startup", "workers": 4, "accelerators_per_worker": 8}


@pytest.mark.parametrize(
    ("name", "change", "want_field", "want_reason"),
    [
        ("zero workers", {"workers": 0}, "workers", "greater than or equal to 1"),
        (
            "fractional whole count",
            {"accelerators_per_worker": 1.5},
            "accelerators_per_worker",
            "whole number",
        ),
        (
            "share finer than a thousandth",
            {"accelerators_per_worker": 0.0001},
            "accelerators_per_worker",
            "thousandths",
        ),
        ("unknown kind", {"kind": "training"}, "kind", "'train', 'inference' or 'batch'"),
        ("unknown priority class", {"priority": "urgent"}, "priority", "valid: best-effort"),
        (
            "negative checkpoint",
            {"checkpoint_interval_s": -5},
            "checkpoint_interval_s",
            "greater than 0",
        ),
        ("replicas on a training job", {"replicas": 3}, "replicas", "only inference"),
        ("unknown field", {"gpus": 8}, "gpus", "Extra inputs"),
        ("missing tenant", {"tenant": None}, "tenant", "valid string"),
        ("empty type list", {"accelerator_types": []}, "accelerator_types", "at least one"),
        ("bad name", {"name": "has space"}, "name", "pattern"),
    ],
)
def test_bad_job_spec_names_field_and_reason(
    name: str, change: dict, want_field: str, want_reason: str
) -> None:
    data = {**GOOD, **change}
    with pytest.raises(SpecError) as err:
        parse_job(data, "jobs.yaml")
    message = str(err.value)
    assert message.startswith("jobs.yaml: ")
    assert want_field in message and want_reason in message, message


def test_good_spec_becomes_a_job_with_canonical_types() -> None:
    spec = parse_job({**GOOD, "accelerator_types": {"V100M32": 1.0, "h100": 3.2}})
    job = job_from_spec(spec, 1)
    assert job.accelerator_types == ("V100-32GB", "H100")
    assert job.speed_on("H100") == 3.2
    assert job.demand == Demand(8, 1000, 1000, 4096)
    assert job.gpus == 32


def test_shares_and_cpu_only_demands() -> None:
    assert Demand.of(0.25, 2, 8) == Demand(1, 250, 2000, 8192)
    assert Demand.of(0, 4, 16).gpus == 0


def test_catalogue_has_the_required_types_with_sources() -> None:
    cat = catalogue()
    required = [
        "H100",
        "H800",
        "H20",
        "A100",
        "A800",
        "L40S",
        "V100",
        "T4",
        "A10",
        "P100",
        "Ascend910B",
        "MLU370",
    ]
    for name in required:
        entry = cat.get(name)
        assert entry.known and entry.source and entry.bf16_tflops and entry.memory_gib
    assert cat.canonical("V100M16") == "V100"
    assert not cat.get("G2").known  # openb's undisclosed types stay schedulable


@pytest.mark.parametrize(
    ("content", "want"),
    [
        ("sites: []", "sites: List should have at least 1 item"),
        ("sites:\n  - {name: a, country: china, nodes: [{count: 1}]}", "sites[0].country"),
        ("sites:\n  - {name: a, country: CN, nodes: [{count: 0}]}", "sites[0].nodes[0].count"),
        (
            "sites:\n  - {name: a, country: CN, nodes: [{count: 100001}]}",
            "sites[0].nodes[0].count: Input should be less than or equal to 100000",
        ),
        ("- just a list", "a cluster file is a mapping"),
        ("sites: [\n", "not valid YAML"),
    ],
)
def test_bad_cluster_file(tmp_path: Path, content: str, want: str) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(content)
    with pytest.raises(SpecError, match=want.replace("[", r"\[").replace("]", r"\]")):
        load_cluster(path)


@pytest.mark.parametrize(
    ("content", "want_code", "want_text"),
    [
        ("name: ok\ntenant: t1\nworkers: 2\n", 0, "job ok"),
        ("name: bad\ntenant: t1\nworkers: -1\n", 2, "workers"),
        ("name: [unclosed\n", 2, "not valid YAML"),
        ("- 1\n- 2\n", 2, "a job is a mapping"),
    ],
)
def test_cli_validate(tmp_path: Path, content: str, want_code: int, want_text: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(content)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == want_code
    assert want_text in result.output
    assert "Traceback" not in result.output


def test_a_yaml_file_that_is_not_utf8_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes("name: café\ntenant: t1\n".encode("latin-1"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "job.yaml: file is not UTF-8 (byte 0xe9 on line 1)" in " ".join(result.output.split())


def test_a_yaml_file_nested_too_deeply_is_one_line_naming_the_file(tmp_path: Path) -> None:
    # The one YAML reader recursed past Python's limit: a RecursionError traceback.
    path = tmp_path / "job.yaml"
    path.write_text("name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output == f"error: {path}: not valid YAML: nested too deeply\n"


def test_cli_sim_bad_arguments_are_clear() -> None:
    runner = CliRunner()
    for args, want in [
        (["sim", "--trace", "no/such/folder", "--policy", "fifo"], "not an openb trace folder"),
        (["sim", "--trace", "synthetic", "--policy", "lifo"], "unknown queue order 'lifo'"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert want in result.output and "Traceback" not in result.output


def test_example_cluster_is_a_5000_pflops_centre() -> None:
    spec = load_cluster(Path(__file__).resolve().parents[2] / "examples/clusters/asean-5000pf.yaml")
    assert len(spec.sites) == 4
    assert 4_900 <= spec.peak_pflops() <= 5_200


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "a bad field of the second job names its line",
            "jobs:\n  - name: a\n    tenant: t\n  - name: b\n    tenant: t\n    workers: -1\n",
            ":6: jobs[1].workers: Input should be greater than or equal to 1 (got -1)",
        ),
        (
            "a single job file",
            "name: a\ntenant: t\npriority: urgent\n",
            ":3: priority: unknown priority class 'urgent'",
        ),
        ("malformed YAML names line and column", "name: a\n  tenant: [\n", "line 2, column"),
    ],
)
def test_a_file_error_names_file_line_and_field(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_jobs(path)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)
