"""A bad quality-thresholds file (thresholds/default.yaml or thresholds/<lang>.yaml) stops a
run before any work with one line naming the file, the line and the rule, through the one
YAML reader and error formatting of every file the project reads. It was a raw pydantic
ValidationError (or an AttributeError for a file that is a list) raised in a worker."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.corpus import quality
from silkroute.corpus.cli import corpus_app
from silkroute.corpus.errors import CorpusError
from silkroute.corpus.quality import THRESHOLD_DIR, thresholds_for

# A hand-written language file: the line numbers in the cases below are counted on it.
THAI = """\
# Thai separates sentences with spaces.
min_mean_word_chars: 1.5
max_mean_word_chars: 10
min_line_end_punct_ratio: null
"""


@dataclass(frozen=True)
class BadThresholds:
    name: str
    file: str
    old: str
    new: str
    said: str  # after `FILE`


CASES = [
    BadThresholds("a word where a number belongs", "tha_Thai.yaml", "max_mean_word_chars: 10",
                  "max_mean_word_chars: ten",
                  ":3: max_mean_word_chars: Input should be a valid number, unable to parse "
                  "string as a number (got 'ten')"),
    BadThresholds("a misspelt rule name", "tha_Thai.yaml", "min_line_end_punct_ratio: null",
                  "min_line_end_punct_ratoi: null",
                  ":4: min_line_end_punct_ratoi: Extra inputs are not permitted (got None)"),
    BadThresholds("a stop-word list given as one word", "tha_Thai.yaml",
                  "min_line_end_punct_ratio: null", "stop_words: และ",
                  ":4: stop_words: Input should be a valid list (got 'และ')"),
    BadThresholds("a language file that is a list, not a mapping", "tha_Thai.yaml", THAI,
                  "- min_words: 3\n",
                  ":1: (root): a thresholds file is a mapping of rule names to limits "
                  "(got a list)"),
    BadThresholds("a language file that is not YAML", "tha_Thai.yaml", "max_mean_word_chars: 10",
                  "max_mean_word_chars: [10",
                  ": not valid YAML: while parsing a flow sequence"),
    BadThresholds("a bad value in the default file", "default.yaml", "min_words: 30",
                  "min_words: 30.5",
                  ":3: min_words: Input should be a valid integer, got a number with a "
                  "fractional part (got 30.5)"),
]  # fmt: skip


@pytest.fixture
def thresholds(tmp_path: Path) -> Path:
    folder = tmp_path / "thresholds"
    shutil.copytree(THRESHOLD_DIR, folder)
    (folder / "tha_Thai.yaml").write_text(THAI)
    return folder


def broken(folder: Path, case: BadThresholds) -> Path:
    path = folder / case.file
    text = path.read_text("utf-8")
    assert case.old in text, case.old
    path.write_text(text.replace(case.old, case.new, 1), "utf-8")
    return path


def test_the_hand_written_and_shipped_files_load(thresholds: Path) -> None:
    assert thresholds_for("tha_Thai", thresholds).max_mean_word_chars == 10
    quality.check_thresholds(thresholds)
    quality.check_thresholds()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_bad_thresholds_file_is_one_line_naming_file_line_and_rule(
    thresholds: Path, case: BadThresholds
) -> None:
    path = broken(thresholds, case)
    with pytest.raises(CorpusError) as caught:
        quality.check_thresholds(thresholds)
    assert str(caught.value).startswith(f"{path}{case.said}"), str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corpus_run_stops_before_any_work_on_a_bad_thresholds_file(
    tmp_path: Path, thresholds: Path, monkeypatch: pytest.MonkeyPatch, case: BadThresholds
) -> None:
    # The run reads the thresholds folder the package ships; here, a broken copy of it.
    monkeypatch.setattr(quality, "THRESHOLD_DIR", thresholds)
    path = broken(thresholds, case)
    (tmp_path / "raw").mkdir()
    text = "สวัสดีครับ นี่คือเอกสารภาษาไทย " * 20
    (tmp_path / "raw" / "a.jsonl").write_text(f'{{"id": "a", "text": "{text}"}}\n', "utf-8")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        "input: {paths: [raw]}\n"
        "output: {dir: out, format: jsonl.gz}\n"
        "stages:\n"
        "  - name: normalize\n"
        "  - name: quality_filter\n"
    )
    result = CliRunner().invoke(corpus_app, ["run", str(pipeline), "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    said = " ".join(result.output.split())
    stage = f"{pipeline}:5: stages[1] (quality_filter)"  # the stage that reads the thresholds
    assert said.startswith(f"error: {stage}: {path}{case.said}"), said
    assert "Traceback" not in result.output and "ValidationError" not in result.output
    assert not (tmp_path / "out").exists()
