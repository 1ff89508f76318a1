"""What a new user meets: the shipped example, resume only on unchanged config and input,
progress that fits 80 columns, intermediates cleaned up."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from silkroute.corpus.cli import corpus_app
from silkroute.corpus.io.writers import iter_shard_docs
from silkroute.corpus.pipeline import executor
from silkroute.corpus.pipeline.executor import ProgressEvent
from silkroute.corpus.progress import ProgressPrinter, format_event

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "corpus"
SHIPPED = executor.SHIPPED_DATA  # the package's own corpus folder


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """examples/corpus copied as it ships (pipeline.yaml and its raw/ sample), then run."""
    root = tmp_path_factory.mktemp("example") / "corpus"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("out"))
    result = CliRunner().invoke(corpus_app, ["run", str(root / "pipeline.yaml")])
    assert result.exit_code == 0, result.output
    return root, flat(result.output)


def test_the_example_runs_and_prints_its_resolved_output_folder(
    example_run: tuple[Path, str],
) -> None:
    root, output = example_run
    out = (root / "out").resolve()
    assert f"-> {out}" in output and ".." not in output
    docs = {d.id: d for f in (out / "data").iterdir() for d in iter_shard_docs(f)}
    assert "junk-1" not in docs
    assert not {"en-1", "en-1-copy"} <= set(docs) and not {"ms-1", "ms-1-near"} <= set(docs)
    assert {"th-1", "vi-1", "fil-1", "id-1"} <= set(docs)


def test_a_changed_config_starts_over_and_an_unchanged_one_does_nothing(
    example_run: tuple[Path, str],
) -> None:
    root, _ = example_run
    path = root / "pipeline.yaml"
    again = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert again.exit_code == 0 and "already finished" in flat(again.output)
    config = yaml.safe_load(path.read_text())
    config["stages"][2]["params"]["min_score"] = 0.99  # language_filter
    path.write_text(yaml.safe_dump(config))
    changed = CliRunner().invoke(corpus_app, ["run", str(path), "--keep-work"])
    assert changed.exit_code == 0, changed.output
    assert "the config changed since the last run there: starting over" in flat(changed.output)
    stats = json.loads((root / "out" / "stats.json").read_text())
    assert stats["stages"]["language_filter"]["removed"].get("language_score_low", 0) > 0
    assert (root / "out" / "_work").is_dir(), "--keep-work keeps the intermediates"


def test_changed_input_starts_over(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "c", ignore=shutil.ignore_patterns("out"))
    path = tmp_path / "c" / "pipeline.yaml"
    config = yaml.safe_load(path.read_text())
    config["stages"] = [{"name": "normalize"}]
    path.write_text(yaml.safe_dump(config))
    assert CliRunner().invoke(corpus_app, ["run", str(path)]).exit_code == 0
    with (tmp_path / "c" / "raw" / "sample.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "new", "text": "one more document"}) + "\n")
    result = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert "the input files changed since the last run there: starting over" in flat(result.output)
    assert json.loads((tmp_path / "c" / "out" / "manifest.json").read_text())["documents"] == 11


def test_changed_shipped_rules_start_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that changes the data the stages ship with (here a threshold file) changes
    the output as a changed config does: the rerun starts over and says why."""
    shipped = tmp_path / "shipped"
    shutil.copytree(SHIPPED / "thresholds", shipped / "thresholds")
    monkeypatch.setattr(executor, "SHIPPED_DATA", shipped)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("a document long enough to keep")
    path = tmp_path / "pipeline.yaml"
    config = {
        "input": {"paths": ["raw"]},
        "output": {"dir": "out"},
        "stages": [{"name": "normalize"}],
    }
    path.write_text(yaml.safe_dump(config))
    assert CliRunner().invoke(corpus_app, ["run", str(path)]).exit_code == 0
    same = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert "already finished" in flat(same.output)
    rules = shipped / "thresholds" / "default.yaml"
    rules.write_text(rules.read_text() + "\n# a release changed this file\n")
    again = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert again.exit_code == 0, again.output
    assert "silkroute's version or its shipped rules changed since the last run there" in flat(
        again.output
    )


def test_other_workers_deal_the_files_into_other_shards_and_says_so(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in range(6):
        (raw / f"f{n}.txt").write_text(f"document number {n}, long enough to keep")
    path = tmp_path / "pipeline.yaml"
    stages = [{"name": "normalize"}]
    config = {"input": {"paths": ["raw"]}, "output": {"dir": "out"}, "stages": stages}
    path.write_text(yaml.safe_dump(config))
    assert CliRunner().invoke(corpus_app, ["run", str(path), "--workers", "1"]).exit_code == 0
    same = CliRunner().invoke(corpus_app, ["run", str(path), "--workers", "1"])
    assert "already finished" in flat(same.output)
    other = CliRunner().invoke(corpus_app, ["run", str(path), "--workers", "2"])
    assert other.exit_code == 0, other.output
    assert "the sharding (--workers sets how many shards" in flat(other.output)
    assert "the config" not in flat(other.output)


def event(**changes: object) -> ProgressEvent:
    base = {
        "segment": 0,
        "segments": 3,
        "label": "normalize+langid+language_filter+quality_filter+pii+exact_dedup",
        "docs": 123_456,
        "fraction": 0.25,
        "elapsed": 60.0,
        "shards_done": 2,
        "shards": 8,
    }
    return ProgressEvent(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "progress", "wanted"),
    [
        (
            "a quarter done shows docs, rate and ETA",
            event(),
            ["123,456 docs", "2,058/s", "ETA 0:03:00"],
        ),
        ("unknown fraction has no ETA", event(fraction=None), ["ETA -"]),
        ("finished says how long", event(finished=True), ["done in 0:01:00"]),
        ("a huge count still fits", event(docs=10**12, shards=99_999), ["docs"]),
        (
            "a resumed segment counts only this run's documents in the rate and the ETA",
            event(docs=2_000, docs_before=1_000, fraction=0.5, fraction_before=0.25, elapsed=10),
            ["2,000 docs", " 100/s", "ETA 0:00:20"],
        ),
        (
            "a resumed segment with nothing new yet has no ETA",
            event(docs=1_000, docs_before=1_000, fraction=0.75, fraction_before=0.75),
            ["1,000 docs", " 0/s", "ETA -"],
        ),
    ],
)
def test_progress_line_fits_80_columns(
    name: str, progress: ProgressEvent, wanted: list[str]
) -> None:
    line = format_event(progress)
    assert len(line) <= 79, name
    for part in wanted:
        assert part in line, (name, line)


def test_progress_prints_periodically_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, interval=3600)
    for docs in range(0, 5000, 500):
        printer(event(docs=docs))
    printer(event(finished=True))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, "the first update, then the end of the segment"
    assert lines[-1].endswith("shards 2/8") and "done in" in lines[-1]


def test_the_sample_command_writes_the_example_sample_and_keeps_files_already_there(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "s"
    first = CliRunner().invoke(corpus_app, ["sample", str(folder)])
    assert first.exit_code == 0 and "2 files written" in flat(first.output), first.output
    written = (folder / "raw" / "sample.jsonl").read_bytes()
    assert written == (EXAMPLE / "raw" / "sample.jsonl").read_bytes()
    (folder / "pipeline.yaml").write_text("workers: 1\n")  # a restarted job keeps its own files
    again = CliRunner().invoke(corpus_app, ["sample", str(folder)])
    assert again.exit_code == 0 and "0 files written" in flat(again.output)
    assert (folder / "pipeline.yaml").read_text() == "workers: 1\n"


def test_a_run_whose_stages_remove_every_document_says_so(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    lines = [{"id": f"d{i}", "text": f"Terlalu pendek {i}."} for i in range(3)]
    (tmp_path / "raw" / "short.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    shutil.copy(EXAMPLE / "pipeline.yaml", tmp_path / "pipeline.yaml")
    result = CliRunner().invoke(corpus_app, ["run", str(tmp_path / "pipeline.yaml")])
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    assert "all 3 documents read were removed (quality_filter: too_few_words 3)" in output


def test_a_resumed_run_shows_the_documents_its_finished_shards_read(tmp_path: Path) -> None:
    """The first segment finished by an earlier run: its progress line counts the documents
    those shards read (not "0 docs"), and no rate is made of them."""
    from silkroute.corpus.pipeline.config import load_config
    from silkroute.corpus.pipeline.executor import run_pipeline

    shutil.copytree(EXAMPLE, tmp_path / "c", ignore=shutil.ignore_patterns("out"))
    config = load_config(tmp_path / "c" / "pipeline.yaml")
    run_pipeline(config, keep_work=True)
    out = config.output.dir
    for marker in (out / "_markers").glob("seg[1-9]*.done"):
        marker.unlink()  # as if stopped after the first segment
    state = json.loads((out / "_run.json").read_text())
    (out / "_run.json").write_text(json.dumps({**state, "finished": False}))
    (out / "stats.json").unlink()
    events: list[ProgressEvent] = []
    summary = run_pipeline(config, events.append)
    first = [e for e in events if e.segment == 0]
    read = summary["input"]["documents"]
    assert read == 10 and all(e.docs == read and e.docs_before == read for e in first)
    assert all(" 0/s" in format_event(e) for e in first)


def test_a_second_run_on_the_same_output_folder_is_refused_while_the_first_runs(
    tmp_path: Path,
) -> None:
    import fcntl

    shutil.copytree(EXAMPLE, tmp_path / "c", ignore=shutil.ignore_patterns("out"))
    out = tmp_path / "c" / "out"
    out.mkdir()
    with (out / "_run.lock").open("a+") as held:  # as the first run holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        result = CliRunner().invoke(corpus_app, ["run", str(tmp_path / "c" / "pipeline.yaml")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is in use by another corpus run (process 4242)" in flat(result.output)
    assert not (out / "data").exists(), "nothing written beside the running run"
    after = CliRunner().invoke(corpus_app, ["run", str(tmp_path / "c" / "pipeline.yaml")])
    assert after.exit_code == 0, after.output


def test_a_finished_run_whose_stats_file_was_deleted_starts_over(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "c", ignore=shutil.ignore_patterns("out"))
    path = tmp_path / "c" / "pipeline.yaml"
    assert CliRunner().invoke(corpus_app, ["run", str(path)]).exit_code == 0
    out = tmp_path / "c" / "out"
    before = sorted((d.id, d.text) for f in (out / "data").iterdir() for d in iter_shard_docs(f))
    (out / "stats.json").unlink()
    again = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert again.exit_code == 0 and "Traceback" not in again.output, again.output
    assert "stats.json of the finished run is missing: starting over" in flat(again.output)
    after = sorted((d.id, d.text) for f in (out / "data").iterdir() for d in iter_shard_docs(f))
    assert after == before and (out / "stats.json").exists()
