"""Indonesian vs Malay: the marker model's evidence and the combined detector's verdicts."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from silkroute.corpus.langid import CombinedLangId
from silkroute.corpus.langid.evalsets import authored, udhr_held_out
from silkroute.corpus.langid.markers import (
    _WORD,
    MARKERS_PATH,
    WORDFREQ_PATH,
    _read_table,
    ind_zsm_evidence,
    load_model,
)

DETECTOR = CombinedLangId()


@pytest.mark.parametrize(
    ("text", "leans"),
    [
        ("bahawa", "zsm"),
        ("bahwa", "ind"),
        ("kerana", "zsm"),
        ("karena", "ind"),
        ("tidak mahu", "zsm"),
        ("tidak mau", "ind"),
        ("sahaja", "zsm"),
        ("boleh", "zsm"),
        ("bisa", "ind"),
        ("percuma", "zsm"),
        ("gratis", "ind"),
        ("kerajaan", "zsm"),
        ("pemerintah", "ind"),
        ("daripada", "zsm"),
        ("wang", "zsm"),
        ("uang", "ind"),
        ("ugama", "zsm"),
        ("mana-mana", "zsm"),
        ("mana pun", "ind"),
        ("sebarang", "zsm"),
        ("berkahwin", "zsm"),
        ("menikah", "ind"),
        ("oleh itu", "zsm"),
        ("oleh karena itu", "ind"),
        ("tersebut", "ind"),
        ("akta", "zsm"),
        ("uangmu", "ind"),  # clitic -mu stripped
        ("wangnya", "zsm"),  # clitic -nya stripped
        ("aktiviti", "zsm"),  # -iti suffix
        ("aktivitas", "ind"),  # -itas suffix
        ("kereta", "zsm"),
        ("kereta api", "neutral"),  # train: standard in both
    ],
)
def test_marker_evidence_sign(text: str, leans: str) -> None:
    evidence = ind_zsm_evidence(text)
    if leans == "neutral":
        assert evidence == 0.0
    else:
        assert (evidence > 0) == (leans == "zsm") and evidence != 0.0, (text, evidence)


def test_hand_markers_override_word_frequencies(tmp_path: Path) -> None:
    hand = tmp_path / "hand.txt"
    freq = tmp_path / "freq.txt"
    hand.write_text("# comment\nboleh\t0.5\n*iti\t2\noleh itu\t2\n", encoding="utf-8")
    freq.write_text("boleh\t3.9\nbisa\t-3.9\n", encoding="utf-8")
    model = load_model(hand, freq)
    assert model.word_weight("boleh") == 0.5
    assert model.word_weight("bisa") == pytest.approx(-1.95)  # word frequencies are shrunk x0.5
    assert replace(model, wordfreq_clip=1.0).word_weight("bisa") == -1.0
    assert model.word_weight("kualiti") == 2.0
    assert model.evidence("oleh itu boleh") == 2.5


@pytest.mark.parametrize("path", [MARKERS_PATH, WORDFREQ_PATH])
def test_marker_files_parse_without_duplicates(path: Path) -> None:
    rows = _read_table(path)
    keys = [key for key, _ in rows]
    assert len(rows) > 50
    assert len(keys) == len(set(keys)), path.name
    assert all(-4.0 <= value <= 4.0 for _, value in rows)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "Kerajaan telah meluluskan akta baharu bagi melindungi hak pengguna di seluruh negara.",
            "zsm",
        ),
        ("Pemerintah telah mengesahkan undang-undang baru untuk melindungi hak konsumen.", "ind"),
        ("Sila pastikan anda membawa kad pengenalan semasa mengundi dalam pilihan raya.", "zsm"),
        ("Pastikan Anda membawa kartu tanda penduduk saat mencoblos dalam pemilihan umum.", "ind"),
        ("Dia tidak mahu pergi ke hospital kerana takut akan jarum suntikan.", "zsm"),
        ("Dia tidak mau pergi ke rumah sakit karena takut dengan jarum suntik.", "ind"),
        ("Semua pelajar dikehendaki hadir ke sekolah sebelum pukul tujuh setengah pagi.", "zsm"),
        ("Semua siswa wajib hadir di sekolah sebelum jam setengah delapan pagi.", "ind"),
        ("Oleh itu, sesiapa yang ingin memohon boleh menghantar borang secara percuma.", "zsm"),
        ("Oleh karena itu, siapa pun yang ingin mendaftar bisa mengirim formulir gratis.", "ind"),
    ],
)
def test_combined_detector_on_ind_zsm_pairs(text: str, want: str) -> None:
    assert DETECTOR.identify(text).lang == f"{want}_Latn"


def _accuracy(rows: list[tuple[str, str]], label: str) -> float:
    lines = [text for lab, text in rows if lab == label]
    return sum(DETECTOR.identify(text).lang == label for text in lines) / len(lines)


@pytest.mark.parametrize("label", ["ind_Latn", "zsm_Latn"])
def test_ind_zsm_accuracy_on_authored_sentences(label: str) -> None:
    assert _accuracy(authored(), label) >= 0.9


@pytest.mark.parametrize("label", ["ind_Latn", "zsm_Latn"])
def test_ind_zsm_accuracy_on_held_out_udhr(udhr_dir: Path, label: str) -> None:
    assert _accuracy(udhr_held_out(udhr_dir, [label]), label) >= 0.93


def reference_evidence(text: str) -> float:
    """The marker evidence as documented, one token at a time: a bigram marker counts once in
    place of its two words, taken left to right."""
    model = load_model()
    tokens = _WORD.findall(text.lower())
    total, skip = 0.0, False
    for i, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        bigram = f"{token} {tokens[i + 1]}" if i + 1 < len(tokens) else ""
        if bigram in model.words:
            total += model.words[bigram]
            skip = True
        else:
            total += model.word_weight(token)
    return total


def test_marker_evidence_equals_the_token_by_token_sum_bit_for_bit() -> None:
    rng = random.Random(5)
    bigrams = [key for key in load_model().words if " " in key]
    words = [w for key in bigrams for w in key.split()] + ["kerana", "bahwa", "uangmu", "kualiti"]
    words += ["peneliti", "oleh", "Oleh", "itu,", "saya", "x-y", "--", "Tidak", "é"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 30))) for _ in range(2000)]
    texts += [" ".join(bigrams), "oleh itu itu", "oleh oleh itu", "berhak atas berhak kepada"]
    for text in texts:
        assert ind_zsm_evidence(text) == reference_evidence(text), text


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("aa bb cc", 1.0 + 0.25),  # "aa bb" is taken first; "bb cc" cannot reuse its "bb"
        ("bb cc aa", 2.0 + 0.0),
        ("aa aa bb cc cc", 0.0 + 1.0 + 0.25 + 0.25),
        ("bb aa bb bb cc", 0.5 + 1.0 + 2.0),
    ],
)
def test_bigram_markers_are_taken_left_to_right(tmp_path: Path, text: str, want: float) -> None:
    markers = tmp_path / "markers.txt"
    markers.write_text("aa bb\t1\nbb cc\t2\nbb\t0.5\ncc\t0.25\n", encoding="utf-8")
    assert load_model(markers, None, None).evidence(text) == want
