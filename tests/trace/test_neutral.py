"""The neutral JSONL trace: reading, writing, errors that name the line and the field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from silkroute.model.cluster import load_cluster
from silkroute.model.errors import SpecError
from silkroute.model.job import JobKind
from silkroute.model.workload import Demand
from silkroute.sim.neutral import (
    MAX_ERRORS,
    load_neutral_trace,
    read_trace,
    schema_text,
    spec_of_job,
    summarise,
    write_neutral_trace,
)
from silkroute.sim.truth import SimJob
from tests.trace.conftest import REPO, SMALL_CLUSTER, SMALL_TRACE

GOOD = '{"name": "a", "tenant": "t", "submit_time_s": 0, "duration_s": 60}'


def _write(tmp_path: Path, text: str, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _job(**fields: object) -> str:
    data: dict[str, object] = {"name": "b", "tenant": "t", "submit_time_s": 10, "duration_s": 5}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not None})


# (case, line 2 of a trace whose line 1 is GOOD, the line and field the message must name)
BAD_LINES = [
    ("missing submit time", _job(submit_time_s=None), "line 2: submit_time_s: Field required"),
    ("missing tenant", _job(tenant=None), "line 2: tenant: Field required"),
    ("missing duration", _job(duration_s=None), "line 2: duration_s: Field required"),
    ("negative submit time", _job(submit_time_s=-5), "line 2: submit_time_s: "),
    ("negative duration", _job(duration_s=-1), "line 2: duration_s: durations must be > 0"),
    ("zero duration per type", _job(duration_s={"H100": 0}), "line 2: duration_s: "),
    ("empty duration map", _job(duration_s={}), "line 2: duration_s: "),
    ("any-type key in map", _job(duration_s={"*": 5}), "line 2: duration_s: '*' is not a type"),
    ("text duration", _job(duration_s="long"), "line 2: duration_s"),
    (
        "unknown accelerator type",
        _job(accelerator_types=["H1000"]),
        "line 2: accelerator_types: unknown accelerator type 'H1000'",
    ),
    (
        "unknown type in durations",
        _job(duration_s={"H100": 5, "Z9": 6}),
        "line 2: duration_s: unknown accelerator type 'Z9'",
    ),
    (
        "type without a run time",
        _job(accelerator_types=["H100", "A100"], duration_s={"H100": 5}),
        "line 2: duration_s: no run time for A100",
    ),
    (
        "per-type durations for a CPU job",
        _job(accelerators_per_worker=0, duration_s={"H100": 5}),
        "line 2: duration_s: a CPU-only job",
    ),
    ("duplicate name", _job(name="a"), "line 2: name: 'a' is already the name of line 1"),
    ("bad name", _job(name="a job"), "line 2: name: "),
    ("unknown field", _job(gpus=4), "line 2: gpus: Extra inputs are not permitted"),
    ("workers not a number", _job(workers="two"), "line 2: workers: "),
    (
        "fractional whole count",
        _job(accelerators_per_worker=1.5),
        "line 2: accelerators_per_worker",
    ),
    ("unknown priority", _job(priority="urgent"), "line 2: priority: unknown priority class"),
    (
        "replicas on training",
        _job(replicas=3),
        "line 2: replicas: only inference jobs have replicas (got 3)",
    ),
    ("not an object", "[1, 2, 3]", "line 2: (root): a line is one JSON object"),
    ("invalid JSON", '{"name": "b", ', "line 2: not valid JSON"),
    ("NaN", _job().replace("10", "NaN"), "line 2: not valid JSON: NaN is not a number"),
    ("Infinity", _job().replace(": 5", ": Infinity"), "line 2: not valid JSON: Infinity"),
]


@pytest.mark.parametrize(
    ("line", "expected"), [c[1:] for c in BAD_LINES], ids=[c[0] for c in BAD_LINES]
)
def test_bad_line_names_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    path = _write(tmp_path, f"{GOOD}\n{line}\n")
    with pytest.raises(SpecError) as err:
        load_neutral_trace(path)
    assert f"{path}: {expected}" in str(err.value)


BAD_FILES = [
    ("empty", "", "no jobs: an empty trace"),
    ("comments only", "# nothing here\n\n", "no jobs: an empty trace"),
    ("a CSV", "name,submit_time_s\na,0\n", "line 1: not a JSONL trace"),
    ("a JSON array", "[\n" + GOOD + "\n]\n", "line 1: not a JSONL trace"),
    ("one JSON number", "42\n", "line 1: not a JSONL trace: a line is one JSON object"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_not_a_trace(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError, match=expected):
        load_neutral_trace(path)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "x.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(SpecError, match="line 1: not UTF-8 text"):
        load_neutral_trace(binary)
    with pytest.raises(SpecError, match="cannot read trace"):
        load_neutral_trace(tmp_path / "absent.jsonl")
    with pytest.raises(SpecError, match="is a folder"):
        load_neutral_trace(tmp_path)


def test_errors_are_collected_and_capped(tmp_path: Path) -> None:
    lines = [GOOD] + [_job(name=f"j{i}", submit_time_s=-1) for i in range(50)]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(SpecError) as err:
        load_neutral_trace(path)
    message = str(err.value).splitlines()
    assert len(message) == MAX_ERRORS + 1
    assert message[0].startswith(f"{path}: line 2: submit_time_s:")
    assert message[-1] == f"{path}: ... and {50 - MAX_ERRORS} more errors"


def test_comments_blank_lines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(("\ufeff# header\n\n" + GOOD + "\n   \n# note\n" + _job()).encode())
    jobs = load_neutral_trace(path)
    assert [j.name for j in jobs] == ["a", "b"]
    assert [j.id for j in jobs] == [0, 1]


def test_trace_codes_need_a_cluster_that_has_them(tmp_path: Path) -> None:
    cluster_file = _write(
        tmp_path,
        "name: coded\nsites:\n  - name: s1\n    country: CN\n"
        "    nodes: [{count: 1, accelerator: G2, accelerators: 8}]\n",
        "c.yaml",
    )
    cluster = load_cluster(cluster_file)
    coded = _write(tmp_path, _job(accelerator_types=["G2", "T4"]) + "\n")
    with pytest.raises(
        SpecError, match=r"line 1: accelerator_types: unknown accelerator type 'G2'"
    ):
        load_neutral_trace(coded)
    (job,) = load_neutral_trace(coded, cluster=cluster)
    assert job.accelerator_types == ("G2", "T4")

    elsewhere = _write(tmp_path, _job(accelerator_types=["H100"]) + "\n", "h.jsonl")
    with pytest.raises(SpecError, match=r"line 1: accelerator_types: no node of cluster 'coded'"):
        load_neutral_trace(elsewhere, cluster=cluster)
    by_duration = _write(tmp_path, _job(duration_s={"A100": 5}) + "\n", "d.jsonl")
    with pytest.raises(SpecError, match=r"line 1: duration_s: no node of cluster 'coded'"):
        load_neutral_trace(by_duration, cluster=cluster)
    other_site = _write(tmp_path, _job(sites=["hanoi"]) + "\n", "s.jsonl")
    with pytest.raises(SpecError, match=r"line 1: sites: no site 'hanoi' in cluster 'coded'"):
        load_neutral_trace(other_site, cluster=cluster)


def test_aliases_and_per_type_durations_limit_the_types(tmp_path: Path) -> None:
    path = _write(tmp_path, _job(duration_s={"v100": 50, "Tesla-K80": 200}) + "\n")
    (job,) = load_neutral_trace(path)
    assert job.duration_s == {"V100": 50, "K80": 200}
    assert job.accelerator_types == ("V100", "K80")
    assert job.run_seconds("V100") == 50
    flat = _write(tmp_path, _job(accelerator_types={"H100": 2.0, "A100": 1.0}) + "\n", "f.jsonl")
    (job,) = load_neutral_trace(flat)
    assert job.duration_s == {"*": 5}
    assert job.run_seconds("H100") == 2.5


def _runtime_job(job_id: int, **fields: object) -> SimJob:
    base = SimJob(
        id=job_id,
        name=f"job-{job_id}",
        tenant="t1",
        kind=JobKind.TRAIN,
        workers=2,
        demand=Demand(1, 250, 3500, 6 * 1024 + 512),
        accelerator_types=None,
        speed=None,
        priority=250,
        preemptible=True,
        checkpoint_interval_s=600.0,
        time_limit_s=None,
        submit_time=12.5,
        duration_s={"*": 99.75},
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def _fields(job: SimJob) -> dict[str, object]:
    return {f.name: getattr(job, f.name) for f in dataclasses.fields(SimJob)}


def test_runtime_jobs_round_trip(tmp_path: Path) -> None:
    jobs = [
        _runtime_job(0),
        _runtime_job(1, demand=Demand(8, 1000, 96000, 1024 * 1024), accelerator_types=("H100",)),
        _runtime_job(
            2, accelerator_types=("H100", "L40S"), speed={"H100": 2.0, "L40S": 1.0}, priority=0
        ),
        _runtime_job(3, demand=Demand(0, 0, 64000, 1024), sites=("nanning",), datasets=("d1",)),
        _runtime_job(
            4,
            kind=JobKind.INFERENCE,
            duration_s={"H800": 100.0, "Ascend910B": 150.0},
            accelerator_types=("H800", "Ascend910B"),
            latency_slo_ms={"SG": 30.0},
            time_limit_s=200.0,
        ),
    ]
    path = tmp_path / "rt.jsonl"
    assert write_neutral_trace(path, jobs, header="round trip\nsecond line") == len(jobs)
    assert path.read_text().startswith("# round trip\n# second line\n{")
    back = load_neutral_trace(path)
    assert [_fields(j) for j in back] == [_fields(j) for j in jobs]
    # Specs written again give the same file.
    again = tmp_path / "again.jsonl"
    write_neutral_trace(again, read_trace(path), header="round trip\nsecond line")
    assert again.read_text() == path.read_text()


def test_a_job_without_run_time_is_refused() -> None:
    with pytest.raises(SpecError, match="no run time"):
        spec_of_job(_runtime_job(0, duration_s=None))
    with pytest.raises(SpecError, match=r"job 'bad name': name: String should match"):
        spec_of_job(_runtime_job(0, name="bad name"))


def test_schema_file_is_up_to_date() -> None:
    committed = (REPO / "docs" / "trace.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "regenerate: silkroute trace schema > docs/trace.schema.json"
    schema = json.loads(committed)
    assert {"submit_time_s", "duration_s", "name", "tenant"} <= set(schema["required"])


def test_small_example_is_valid() -> None:
    summary = summarise(SMALL_TRACE, load_cluster(SMALL_CLUSTER))
    assert summary.jobs == 12
    assert summary.types["cpu-only"] == 1
