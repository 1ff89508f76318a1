from __future__ import annotations

from pathlib import Path

import pytest

from silkroute.corpus.normalize import (
    ascii_digits,
    normalize_text,
    zawgyi_probability,
    zawgyi_to_unicode,
)
from silkroute.corpus.segment import words

from .conftest import paragraphs


def test_zawgyi_round_trip_recovers_unicode(udhr_dir: Path) -> None:
    import icu

    to_zawgyi = icu.Transliterator.createInstance("my-Zawgyi")
    unicode_text = paragraphs(udhr_dir, "mya", per_doc=2)[1]
    zawgyi_text = to_zawgyi.transliterate(unicode_text)
    assert zawgyi_text != unicode_text
    assert zawgyi_probability(zawgyi_text) > 0.95
    assert zawgyi_probability(unicode_text) < 0.05
    back = zawgyi_to_unicode(zawgyi_text)
    assert words(back) == words(normalize_text(unicode_text))


@pytest.mark.parametrize(
    ("name", "code", "min_words_per_space"),
    [("thai", "tha", 2.0), ("lao", "lao", 2.0), ("khmer", "khm", 2.0), ("burmese", "mya", 1.5)],
)
def test_unspaced_scripts_split_into_more_words_than_spaces(
    udhr_dir: Path, name: str, code: str, min_words_per_space: float
) -> None:
    text = paragraphs(udhr_dir, code)[2]
    segmented = words(text)
    assert len(segmented) >= min_words_per_space * len(text.split()), name
    assert "".join(segmented) in "".join(text.split()) or len("".join(segmented)) > 0.7 * len(
        "".join(text.split())
    )


def test_segmentation_of_a_known_thai_sentence() -> None:
    assert words("ผมชอบกินข้าว") == ["ผม", "ชอบ", "กิน", "ข้าว"]


@pytest.mark.parametrize(
    ("name", "raw", "want"),
    [
        ("bidi and soft hyphen removed", "ab\u200e\u00adc", "abc"),
        ("zero width space dropped in latin", "foo\u200bbar", "foobar"),
        ("zero width space kept in khmer", "ខ្ញុំ\u200bស្រលាញ់", "ខ្ញុំ\u200bស្រលាញ់"),
        ("zero width space kept in lao", "ລາວ\u200bລາວ", "ລາວ\u200bລາວ"),
        ("decomposed vietnamese composed", "Vie\u0323\u0302t", "Việt"),
    ],
)
def test_normalize(name: str, raw: str, want: str) -> None:
    assert normalize_text(raw) == want, name


def test_native_digits_become_ascii() -> None:
    assert ascii_digits("๑๒๓ ໔໕ ១២ ၁၂") == "123 45 12 12"


@pytest.mark.parametrize(
    ("name", "text", "script"),
    [
        ("javanese", "ꦧꦱꦗꦮ", "Java"),
        ("balinese", "ᬅᬓ᭄ᬱᬭ", "Bali"),
        ("cham", "ꨌꩌ ꨦꨩ", "Cham"),
        ("tai tham", "ᨠᩣ᩠ᨾᩮᩬᩥᨦ", "Lana"),
        ("thai with digits", "สวัสดี 123", "Thai"),
        ("vietnamese", "Tiếng Việt", "Latn"),
        ("shan in the myanmar script", "ၵႂၢမ်းတႆး", "Mymr"),
        ("japanese mixes kana and han", "ひらがなカタカナ漢字", "Jpan"),
    ],
)
def test_script_table_comes_from_icu(name: str, text: str, script: str) -> None:
    from silkroute.corpus.scripts import dominant_script

    assert dominant_script(text)[0] == script, name
