from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from silkroute.corpus.cli import corpus_app
from silkroute.corpus.io.writers import iter_shard_docs, sha256_of

from .conftest import paragraphs

CODES = ["tha", "lao", "khm", "mya", "cmn_hans", "vie", "ind", "mly_latn", "tgl", "eng"]
STAGES = [
    {"name": "normalize"},
    {"name": "langid"},
    {"name": "language_filter", "params": {"min_score": 0.3}},
    {"name": "quality_filter"},
    {"name": "pii"},
    {"name": "exact_dedup"},
    {"name": "minhash_dedup"},
]


def build_corpus(udhr_dir: Path, root: Path) -> dict[str, int]:
    """Mixed JSONL files with injected exact duplicates, near duplicates, PII and junk."""
    raw = root / "raw"
    raw.mkdir()
    rng = random.Random(0)
    injected = {"exact": 0, "near": 0}
    for code in CODES:
        docs = paragraphs(udhr_dir, code, per_doc=5)
        records = [{"id": f"{code}-{i}", "text": t} for i, t in enumerate(docs)]
        records.append({"id": f"{code}-exact", "text": docs[1].upper() + "  "})
        records.append({"id": f"{code}-near", "text": docs[2][: int(len(docs[2]) * 0.95)]})
        records.append({"id": f"{code}-junk", "text": "click here ### ### ###"})
        injected["exact"] += 1
        injected["near"] += 1
        rng.shuffle(records)
        with (raw / f"{code}.jsonl").open("w") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (raw / "pii.txt").write_text(
        "".join(
            f"Customer {n} wrote to somchai{n}@example.co.th and asked us to call back on"
            f" +66 2 123 45{n:02d} about the order that was late.\n"
            for n in range(8)
        )
    )
    return injected


def write_pipeline(root: Path, **overrides: object) -> Path:
    config = {"input": {"paths": ["raw"]}, "output": {"dir": "out"}, "workers": 2}
    config["stages"] = STAGES
    config.update(overrides)
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def finished_run(udhr_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    build_corpus(udhr_dir, root)
    result = CliRunner().invoke(corpus_app, ["run", str(write_pipeline(root))])
    assert result.exit_code == 0, result.output
    return root / "out"


def test_run_writes_shards_manifest_stats_and_report(finished_run: Path) -> None:
    manifest = json.loads((finished_run / "manifest.json").read_text())
    for entry in manifest["shards"]:
        shard = finished_run / "data" / entry["file"]
        assert entry["sha256"] == sha256_of(shard)
        assert entry["documents"] == sum(1 for _ in iter_shard_docs(shard))
    assert (finished_run / "report.html").read_text().count("<table>") == 5
    assert (finished_run / "report.png").stat().st_size > 1000


def test_run_removes_injected_duplicates_and_junk(finished_run: Path) -> None:
    stats = json.loads((finished_run / "stats.json").read_text())["stages"]
    assert stats["exact_dedup"]["removed"]["duplicate"] > 0
    assert stats["minhash_dedup"]["removed"]["duplicate"] > 0
    assert sum(stats["quality_filter"]["removed"].values()) >= len(CODES)
    docs = [d for f in (finished_run / "data").iterdir() for d in iter_shard_docs(f)]
    ids = {d.id for d in docs}
    for code in CODES:  # an original and its injected copy never both survive
        assert not {f"{code}-1", f"{code}-exact"} <= ids, code
        assert not {f"{code}-2", f"{code}-near"} <= ids, code
    assert not any(i.endswith("-junk") for i in ids)
    langs = {d.lang for d in docs}
    assert {"tha_Thai", "khm_Khmr", "mya_Mymr", "zsm_Latn", "ind_Latn", "fil_Latn"} <= langs


def test_pii_is_redacted_in_the_output(finished_run: Path) -> None:
    docs = [d for f in (finished_run / "data").iterdir() for d in iter_shard_docs(f)]
    pii_doc = next(d for d in docs if d.id == "pii.txt")
    assert "<EMAIL>" in pii_doc.text and "@" not in pii_doc.text
    assert pii_doc.meta["pii"]["PHONE"] == 8


def test_rerun_of_a_finished_run_does_nothing_and_keeps_the_output(finished_run: Path) -> None:
    before = json.loads((finished_run / "manifest.json").read_text())
    result = CliRunner().invoke(corpus_app, ["run", str(finished_run.parent / "pipeline.yaml")])
    assert result.exit_code == 0, result.output
    assert "already finished" in " ".join(result.output.split())
    assert json.loads((finished_run / "manifest.json").read_text()) == before
    assert not (finished_run / "_work").exists(), "intermediates are removed after success"


def test_stats_command_prints_languages(finished_run: Path) -> None:
    result = CliRunner().invoke(corpus_app, ["stats", str(finished_run)])
    assert result.exit_code == 0 and "tha_Thai" in result.output


MINHASH_ZERO_BANDS = {"name": "minhash_dedup", "params": {"bands": 0}}
LANGID_EXTRA = {"name": "langid", "params": {"x": 1}}


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("unknown stage", {"stages": [{"name": "dedupe"}]}, "unknown stage 'dedupe'; valid:"),
        ("bad param", {"stages": [MINHASH_ZERO_BANDS]}, "stages[0].params.bands"),
        ("unknown param", {"stages": [LANGID_EXTRA]}, "stages[0].params.x"),
        ("bad workers", {"workers": 0}, "workers:"),
        ("missing input", {"input": {"paths": ["nowhere"]}}, "does not exist"),
    ],
)
def test_bad_pipeline_gives_one_line_error(
    tmp_path: Path, name: str, overrides: dict[str, object], message: str
) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text("hello")
    result = CliRunner().invoke(corpus_app, ["run", str(write_pipeline(tmp_path, **overrides))])
    assert result.exit_code == 2, name
    output = " ".join(result.output.split())  # the console wraps long temporary paths
    assert message in output and "Traceback" not in output, result.output


@pytest.mark.parametrize(
    ("name", "stages", "message"),
    [
        ("an unknown stage", [{"name": "dedupe"}], ":7: stages[0].name: unknown stage"),
        ("a bad parameter", [MINHASH_ZERO_BANDS], ":9: stages[0].params.bands"),
    ],
)
def test_a_stage_error_names_the_pipeline_file(
    tmp_path: Path, name: str, stages: list[dict[str, object]], message: str
) -> None:
    (tmp_path / "raw").mkdir()
    path = write_pipeline(tmp_path, stages=stages)
    result = CliRunner().invoke(corpus_app, ["run", str(path)])
    unwrapped = "".join(result.output.split())  # the console folds long paths anywhere
    assert result.exit_code == 2, name
    # The lines of yaml.safe_dump's file: the stages list from line 6, its first item on 7.
    assert "".join(f"{path}{message}".split()) in unwrapped, result.output


def test_a_pipeline_file_that_is_not_utf8_is_one_line_naming_file_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("input: {paths: [raw]}\n# café au lait\n".encode("latin-1"))
    result = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is not UTF-8 (byte 0xe9 on line 2)" in " ".join(result.output.split())


@pytest.mark.parametrize("workers", ["-1", "257"])
def test_workers_out_of_range_on_the_command_line_is_one_line(tmp_path: Path, workers: str) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text("hello")
    path = write_pipeline(tmp_path)
    result = CliRunner().invoke(corpus_app, ["run", str(path), "--workers", workers])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--workers" in result.output and not (tmp_path / "out").exists()


def test_bad_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("input: [unclosed")
    result = CliRunner().invoke(corpus_app, ["run", str(path)])
    assert result.exit_code == 2 and "not valid YAML" in " ".join(result.output.split())


def test_langid_command_skips_a_line_that_is_not_utf8_and_says_so() -> None:
    stdin = "สวัสดีครับ\n".encode() + "café noir\n".encode("latin-1") + b"Good morning\n"
    result = CliRunner().invoke(corpus_app, ["langid"], input=stdin)
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "stdin line 2: not UTF-8" in result.output
    rows = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [r["text"] for r in rows] == ["สวัสดีครับ", "Good morning"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("not JSON", '{"stages": ', "cannot read"),
        ("no stages", "{}", "no `stages` in it"),
        ("a stage without its tables", '{"stages": {"a": {"before": {}}}}', "stages.a: needs"),
        # These three were a TypeError, a TypeError and a KeyError traceback.
        (
            "a count that is text",
            '{"stages": {"a": {"before": {"x": {"docs": "1", "words": 0, "bytes": 0}}, '
            '"after": {}, "removed": {}}}}',
            "stages.a.before.x: needs whole docs, words, bytes",
        ),
        (
            "a row that is a number",
            '{"stages": {"a": {"before": {"x": 5}, "after": {}, "removed": {}}}}',
            "stages.a.before.x: needs whole",
        ),
        (
            "a row without words",
            '{"stages": {"a": {"before": {}, "after": {"en": {"docs": 1, "bytes": 2}}, '
            '"removed": {}}}}',
            "stages.a.after.en: needs whole",
        ),
        (
            "UTF-16 said 'utf-8 codec can't decode byte 0xff'",
            "\ufeff{}".encode("utf-16"),
            "cannot read: not UTF-8 text",
        ),
    ],
)
def test_stats_of_a_broken_stats_file_is_one_line(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    stats = tmp_path / "stats.json"
    stats.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(corpus_app, ["stats", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, name
    assert message in " ".join(result.output.split()), name


def test_stats_shows_documents_whose_language_is_uncertain(tmp_path: Path) -> None:
    table = {"und": {"docs": 3, "words": 0, "bytes": 30}}
    stage = {"before": table, "after": table, "removed": {}, "seconds": 0.1}
    counters = {"lang_uncertain:fil_Latn|pam_Latn": 2, "lang_uncertain:ind_Latn|min_Latn": 1}
    summary = {"stages": {"normalize": stage, "langid": stage | {"counters": counters}}}
    (tmp_path / "stats.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(corpus_app, ["stats", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "fil_Latn or pam_Latn 2, ind_Latn or min_Latn 1" in " ".join(result.output.split())


def test_stats_in_80_columns_wraps_long_stage_names_and_reasons_instead_of_cutting_them(
    tmp_path: Path,
) -> None:
    table = {"und": {"docs": 3, "words": 0, "bytes": 30}}
    removed = {"language_score_low": 22, "too_few_words": 6, "duplicate": 1}
    stage = {"before": table, "after": table, "removed": removed, "seconds": 0.1}
    summary = {"stages": {"language_filter": stage, "quality_filter": stage}}
    (tmp_path / "stats.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(corpus_app, ["stats", str(tmp_path)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.output and "language_filter" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_langid_command_reads_lines_and_jsonl() -> None:
    stdin = 'สวัสดีครับ ยินดีต้อนรับ\n{"id": "a", "text": "Selamat pagi, apa khabar? Kerajaan bahawa"}\n'
    result = CliRunner().invoke(corpus_app, ["langid"], input=stdin)
    rows = [json.loads(x) for x in result.output.splitlines()]
    assert [r["lang"] for r in rows] == ["tha_Thai", "zsm_Latn"]
    assert rows[1]["id"] == "a" and 0 < rows[1]["score"] <= 1
