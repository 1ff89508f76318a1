"""Pipeline files a run cannot honour are refused before any work, naming the file and field:
an output folder inside the input (a rerun read its own output, then deleted it), an input
among the files a run replaces, an output that is a file, a negative seed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from silkroute.corpus.cli import corpus_app

TEXT = '{"id": "a", "text": "A plain record that every reader understands."}\n'


@pytest.mark.parametrize(
    ("name", "inputs", "output", "seed", "expected"),
    [
        (
            "the output inside the input read its own output on a rerun",
            ["raw"],
            "raw/out",
            0,
            ":5: output.dir: {root}/raw/out is inside input.paths[0] ({root}/raw): a rerun would "
            "read its own output; choose a folder apart from the input",
        ),
        (
            "the output the input folder itself",
            ["raw"],
            "raw",
            0,
            ":5: output.dir: {root}/raw is inside input.paths[0] ({root}/raw)",
        ),
        (
            "the output an input file was a FileExistsError traceback",
            ["raw/a.jsonl"],
            "raw/a.jsonl",
            0,
            ":5: output.dir: {root}/raw/a.jsonl is a file, not a folder",
        ),
        (
            "an input among the folders a run replaces was deleted",
            ["out/data"],
            "out",
            0,
            ":3: input.paths[0]: {root}/out/data is among the files a run in output.dir "
            "({root}/out) replaces",
        ),
        (
            "a negative seed was a traceback in a worker",
            ["raw"],
            "out",
            -1,
            ":7: seed: Input should be greater than or equal to 0 (got -1)",
        ),
    ],
)
def test_a_config_a_run_cannot_honour_is_refused_before_any_work(
    tmp_path: Path, name: str, inputs: list[str], output: str, seed: int, expected: str
) -> None:
    for folder in ("raw", "out/data"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "raw" / "a.jsonl").write_text(TEXT)
    (tmp_path / "out" / "data" / "b.jsonl").write_text(TEXT)
    config = {
        "input": {"paths": inputs},
        "output": {"dir": output, "format": "jsonl.gz"},
        "seed": seed,
        "stages": [{"name": "normalize"}],
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(corpus_app, ["run", str(path), "--workers", "1"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    # The line numbers are those of yaml.safe_dump: input 1, its paths 2-3, output 4, its dir 5,
    # format 6, seed 7.
    assert said.startswith(f"error: {path}{expected.format(root=tmp_path)}"), said
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("name", "stages", "expected"),
    [
        (
            "a NaN threshold said 'less than or equal to 1'",
            [{"name": "minhash_dedup", "params": {"threshold": float("nan")}}],
            ":9: stages[0].params.threshold: Input should be a finite number (got nan)",
        ),
        (
            "params that are not a mapping were spelt stages.0.params",
            [{"name": "language_filter", "params": None}],
            ":8: stages[0].params: Input should be a valid dictionary (got None)",
        ),
    ],
)
def test_a_bad_stage_parameter_is_named_as_the_file_has_it(
    tmp_path: Path, name: str, stages: list[dict[str, object]], expected: str
) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_text(TEXT)
    config = {"input": {"paths": ["raw"]}, "output": {"dir": "out"}, "stages": stages}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == f"error: {path}{expected}"
