"""The Ray executor: shards as Ray tasks on a real local Ray head, same output as local runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from silkroute.corpus.cli import corpus_app
from silkroute.corpus.io.writers import iter_shard_docs
from silkroute.corpus.pipeline.config import load_config
from silkroute.corpus.pipeline.executor import ProgressEvent, run_pipeline

from .test_bad_input import bad_folder

ray = pytest.importorskip("ray", reason="ray is not installed (the optional 'ray' extra)")


@pytest.fixture(scope="module")
def ray_head() -> Iterator[None]:
    """A local Ray head for this module (2 CPUs, no dashboard), shut down afterwards."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def write_config(root: Path, executor: str) -> Path:
    config = {
        "input": {"paths": ["raw"]},
        "output": {"dir": f"out-{executor}", "format": "jsonl.gz"},
        "workers": 2,
        "executor": executor,
        "stages": [
            {"name": "normalize"},
            {"name": "exact_dedup"},
            {"name": "minhash_dedup", "params": {"threshold": 0.75}},
        ],
    }
    path = root / f"{executor}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def corpus(root: Path) -> None:
    bad_folder(root)  # good records, Latin-1, truncated gzip, bad lines, an empty file
    raw = root / "raw"
    words = [f"word{i}" for i in range(400)]
    with (raw / "dups.jsonl").open("w") as handle:
        for n in range(12):
            text = " ".join(words[n * 30 : n * 30 + 60])
            handle.write(json.dumps({"id": f"p{n}", "text": text}) + "\n")
            handle.write(json.dumps({"id": f"p{n}-copy", "text": text.upper()}) + "\n")
            near = text.replace(words[n * 30 + 40], "changed")
            handle.write(json.dumps({"id": f"p{n}-near", "text": near}) + "\n")


def outputs(out: Path) -> list[tuple[str, str]]:
    return sorted(
        (d.id, d.text) for f in sorted((out / "data").iterdir()) for d in iter_shard_docs(f)
    )


def test_ray_run_gives_the_same_output_as_a_local_run(ray_head: None, tmp_path: Path) -> None:
    corpus(tmp_path)
    for executor in ("local", "ray"):
        result = CliRunner().invoke(corpus_app, ["run", str(write_config(tmp_path, executor))])
        assert result.exit_code == 0, result.output
    local, on_ray = outputs(tmp_path / "out-local"), outputs(tmp_path / "out-ray")
    assert on_ray == local and len(local) > 20
    ids = {doc_id for doc_id, _ in local}
    assert not any(i.endswith("-copy") for i in ids)
    for name in ("quarantine.jsonl",):
        assert (tmp_path / "out-ray" / name).read_text() == (
            tmp_path / "out-local" / name
        ).read_text()


def test_ray_run_resumes_after_a_stop(ray_head: None, tmp_path: Path) -> None:
    corpus(tmp_path)
    path = write_config(tmp_path, "ray")
    stopped = CliRunner().invoke(corpus_app, ["run", str(path), "--strict"])
    assert stopped.exit_code == 2 and "Traceback" not in stopped.output
    assert "error:" in " ".join(stopped.output.split())
    resumed = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in " ".join(resumed.output.split())
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    corpus(fresh)
    shutil.copy(path, fresh / "ray.yaml")
    assert CliRunner().invoke(corpus_app, ["run", str(fresh / "ray.yaml")]).exit_code == 0
    assert outputs(tmp_path / "out-ray") == outputs(fresh / "out-ray")


def test_ray_progress_counts_the_documents_its_tasks_read(ray_head: None, tmp_path: Path) -> None:
    """Ray tasks report only when done; the first segment's line still counts documents read
    (it said "0 docs 0/s" until the end)."""
    corpus(tmp_path)
    events: list[ProgressEvent] = []
    summary = run_pipeline(load_config(write_config(tmp_path, "ray")), events.append)
    first = [e for e in events if e.segment == 0]
    assert first[-1].docs == summary["input"]["documents"] > 20
