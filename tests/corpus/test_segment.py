"""Word segmentation: gold sentences, the ICU-vs-library comparison, the ICU fallback."""

from __future__ import annotations

import logging

import pytest

from silkroute.corpus import segment
from silkroute.corpus.segment_eval import compare_segmenters, gold_sentences, score, spans


@pytest.mark.parametrize(
    ("gold", "predicted", "f1", "exact"),
    [
        (["ab", "cd"], ["ab", "cd"], 1.0, 1.0),
        (["ab", "cd"], ["abcd"], 0.0, 0.0),
        (["ab", "cd"], ["a", "b", "cd"], 0.4, 0.0),  # P 1/3, R 1/2
        (["abc"], ["abc", " "], 1.0, 1.0),  # whitespace tokens are ignored
    ],
)
def test_score(gold: list[str], predicted: list[str], f1: float, exact: float) -> None:
    result = score(lambda _: predicted, [gold])
    assert result["f1"] == pytest.approx(f1, abs=1e-3)
    assert result["exact"] == exact


def test_spans() -> None:
    assert spans(["ab", "c"]) == {(0, 2), (2, 3)}


def test_gold_file_covers_thai_lao_khmer() -> None:
    gold = gold_sentences()
    assert {s: len(v) >= 20 for s, v in gold.items()} == {"Thai": True, "Laoo": True, "Khmr": True}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("ผมชอบกินข้าว", ["ผม", "ชอบ", "กิน", "ข้าว"]),
        ("ฉันอยากไปเที่ยวทะเล", ["ฉัน", "อยาก", "ไป", "เที่ยว", "ทะเล"]),
        ("ພາສາລາວແມ່ນພາສາທາງການ", ["ພາສາ", "ລາວ", "ແມ່ນ", "ພາສາ", "ທາງການ"]),
        ("hello  world", ["hello", "world"]),
    ],
)
def test_words_on_gold_cases(text: str, want: list[str]) -> None:
    assert segment.words(text) == want


def test_khmer_uses_khmer_nltk_where_it_beats_icu_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("khmernltk")
    monkeypatch.setenv("SILKROUTE_SEGMENTERS", "library")
    results = compare_segmenters()["Khmr"]
    assert results["khmer-nltk"]["f1"] > results["icu"]["f1"]
    assert results["silkroute (words)"] == results["khmer-nltk"]
    assert segment.words("ខ្ញុំចូលចិត្តញ៉ាំបាយ") == ["ខ្ញុំ", "ចូលចិត្ត", "ញ៉ាំ", "បាយ"]


@pytest.mark.parametrize(("script", "minimum"), [("Thai", 0.8), ("Laoo", 0.8), ("Khmr", 0.75)])
def test_icu_scores_on_gold(script: str, minimum: float) -> None:
    sentences = gold_sentences()[script]
    locale = segment.SCRIPT_LOCALE[script]
    assert score(lambda t: segment.icu_words(t, locale), sentences)["f1"] >= minimum


def test_missing_library_falls_back_to_icu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing(name: str) -> None:
        raise ImportError(name)

    monkeypatch.setenv("SILKROUTE_SEGMENTERS", "library")
    monkeypatch.setattr(segment, "_load", missing)
    segment._library.cache_clear()
    segment._library_words.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=segment.__name__):
            got = segment.words("ខ្ញុំចូលចិត្តញ៉ាំបាយ")
        assert got == segment.icu_words("ខ្ញុំចូលចិត្តញ៉ាំបាយ", "km")
        assert "khmer-nltk is not installed" in caplog.text
    finally:
        segment._library.cache_clear()
        segment._library_words.cache_clear()


def test_icu_is_the_default_and_the_environment_switch_selects_libraries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SILKROUTE_SEGMENTERS", raising=False)
    text = "ខ្ញុំចូលចិត្តញ៉ាំបាយ"
    assert segment.words(text) == segment.icu_words(text, "km")
