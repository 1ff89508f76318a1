"""Bad input, as a corpus over millions of web documents has: the run goes on, every bad record
and unreadable file is counted per reason and set aside with its file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from silkroute.corpus.cli import corpus_app
from silkroute.corpus.io.readers import read_file
from silkroute.corpus.io.writers import iter_shard_docs

GOOD = "A plain record that every reader understands, number {n}."


def bad_folder(root: Path) -> dict[str, int]:
    """good.jsonl, a Latin-1 file, a truncated .jsonl.gz, a file with a non-JSON line and a
    record without text, and an empty file. Returns how many good records each holds."""
    raw = root / "raw"
    raw.mkdir()
    with (raw / "good.jsonl").open("w") as handle:
        for n in range(5):
            handle.write(json.dumps({"id": f"good-{n}", "text": GOOD.format(n=n)}) + "\n")
    (raw / "latin1.jsonl").write_bytes(
        '{"id": "cafe", "text": "Un café crème à la française, s\'il vous plaît."}\n'.encode(
            "latin-1"
        )
    )
    payload = "".join(
        json.dumps({"id": f"gz-{n}", "text": GOOD.format(n=n) * 20}) + "\n" for n in range(400)
    )
    whole = gzip.compress(payload.encode())
    (raw / "truncated.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (raw / "mixed.jsonl").write_text(
        json.dumps({"id": "m1", "text": "A record among bad ones, the first."})
        + "\nthis line is not JSON\n"
        + json.dumps({"id": "m3", "text": "A record among bad ones, the third."})
        + "\n"
        + json.dumps({"id": "m4", "body": "no text field"})
        + "\n"
    )
    (raw / "empty.jsonl").write_text("")
    return {"good.jsonl": 5, "latin1.jsonl": 1, "mixed.jsonl": 2}


def pipeline(root: Path) -> Path:
    config = {
        "input": {"paths": ["raw"]},
        "output": {"dir": "out", "format": "jsonl.gz"},
        "workers": 2,
        "stages": [{"name": "normalize"}, {"name": "exact_dedup"}],
    }
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def output_docs(out: Path) -> dict[str, str]:
    return {d.id: d.text for f in sorted((out / "data").iterdir()) for d in iter_shard_docs(f)}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("bad")
    bad_folder(root)
    result = CliRunner().invoke(corpus_app, ["run", str(pipeline(root))])
    assert result.exit_code == 0, result.output
    return root / "out", " ".join(result.output.split())


def test_the_run_completes_with_every_good_record(bad_run: tuple[Path, str]) -> None:
    out, _ = bad_run
    docs = output_docs(out)
    assert {f"good-{n}" for n in range(5)} | {"m1", "m3", "cafe"} <= set(docs)
    gz = [i for i in docs if i.startswith("gz-")]
    assert gz == [f"gz-{n}" for n in range(len(gz))] and len(gz) > 10, "records before the cut"


def test_latin1_is_detected_and_decoded(bad_run: tuple[Path, str]) -> None:
    out, _ = bad_run
    assert output_docs(out)["cafe"].startswith("Un café crème à la française")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["input"]["counters"] == {"decoded_as_cp1252": 1}


def test_each_bad_record_is_in_quarantine_with_file_and_line(bad_run: tuple[Path, str]) -> None:
    out, output = bad_run
    rows = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    found = {(Path(r["file"]).name, r["line"], r["reason"]) for r in rows}
    gz_line = next(r["line"] for r in rows if r["reason"] == "truncated_gzip")
    assert found == {
        ("mixed.jsonl", 2, "bad_json"),
        ("mixed.jsonl", 4, "no_text_field"),
        ("empty.jsonl", None, "empty_file"),
        ("truncated.jsonl.gz", gz_line, "truncated_gzip"),
    }
    stats = json.loads((out / "stats.json").read_text())
    assert stats["input"]["bad"] == {
        "bad_json": 1,
        "no_text_field": 1,
        "empty_file": 1,
        "truncated_gzip": 1,
    }
    assert "bad input set aside" in output and "quarantine.jsonl" in output
    assert "truncated_gzip" in (out / "report.html").read_text()


def test_strict_stops_at_the_first_bad_record_and_a_rerun_resumes(tmp_path: Path) -> None:
    bad_folder(tmp_path)
    path = pipeline(tmp_path)
    stopped = CliRunner().invoke(corpus_app, ["run", str(path), "--strict"])
    assert stopped.exit_code == 2
    message = " ".join(stopped.output.split())
    assert "error:" in message and "Traceback" not in message
    unwrapped = "".join(stopped.output.split())  # the console folds long paths anywhere
    assert any(name in unwrapped for name in ("mixed.jsonl", "empty.jsonl", "truncated.jsonl.gz"))
    resumed = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in " ".join(resumed.output.split())
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    bad_folder(fresh)
    CliRunner().invoke(corpus_app, ["run", str(pipeline(fresh))])
    assert output_docs(tmp_path / "out") == output_docs(fresh / "out")


def test_an_input_with_no_documents_is_an_error_not_an_empty_success(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "empty.jsonl").write_text("\n\n")
    for attempt in ("first run", "rerun of the finished run"):
        result = CliRunner().invoke(corpus_app, ["run", str(pipeline(tmp_path))])
        assert result.exit_code == 2, attempt
        assert "no documents read" in " ".join(result.output.split()), attempt
        unwrapped = "".join(result.output.split())  # the console folds long paths anywhere
        assert "".join(str(tmp_path / "out" / "quarantine.jsonl").split()) in unwrapped, attempt


def test_a_reader_alone_raises_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "fine"}\n{oops\n')
    with pytest.raises(Exception, match=r"x\.jsonl:2: bad json"):
        list(read_file(path))
