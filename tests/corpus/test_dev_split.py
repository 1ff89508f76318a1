from __future__ import annotations

import sys

import pytest

from silkroute.corpus.langid.dev_split import (
    BALANCES,
    INDONESIAN,
    SplitCase,
    choose_balance,
    dev_parts,
    evidence,
    evidence_line,
    record,
    relabel,
)
from silkroute.corpus.langid.evalsets import eld_big_test, nlpid_indonesian
from silkroute.corpus.langid.malay import IND, ZSM
from silkroute.corpus.langid.markers import default_model

SENTENCES = [
    (ZSM, "Kerajaan akan membina lebih banyak hospital kerana permintaan semakin tinggi."),
    (IND, "Pemerintah akan membangun lebih banyak rumah sakit karena permintaan terus naik."),
    (ZSM, "Masyarakat menanti perubahan yang dibawa oleh mahasiswa."),
    (IND, "Saya kira ini perlu diwujudkan secepatnya."),
    (ZSM, "Pameran lukisan itu akan berlangsung sehingga Januari tahun hadapan."),
    (IND, "Tim kami akhirnya menang setelah tiga kali kalah berturut-turut."),
]


@pytest.fixture(scope="module")
def cases() -> list[SplitCase]:
    authored = [row for row in dev_parts()["dev_authored"] if row[0] in (IND, ZSM)]
    return record(SENTENCES + authored)


def test_rescoring_the_recorded_split_gives_the_detectors_labels(cases: list[SplitCase]) -> None:
    model = default_model()
    split = [case for case in cases if case.votes is not None]
    assert len(split) >= len(SENTENCES)
    for case in cases:
        assert relabel(case, evidence(case, model)) == case.label, case.sample


def test_a_higher_balance_only_ever_moves_sentences_to_malay(cases: list[SplitCase]) -> None:
    model = default_model()
    evidences = [evidence(case, model) for case in cases]
    before: set[int] = set()
    for balance in BALANCES:
        malay = {i for i, case in enumerate(cases) if relabel(case, evidences[i], balance) == ZSM}
        assert before <= malay, balance
        before = malay
    assert before  # at the top of the range some sentences are Malay


@pytest.mark.parametrize(
    ("name", "curve", "want"),
    [
        ("the higher lower accuracy wins", {-0.2: (0.95, 0.96), 0.0: (0.96, 0.955)}, 0.0),
        (
            "a tie on the lower goes to the higher mean",
            {-0.2: (0.95, 0.96), 0.2: (0.97, 0.95)},
            0.2,
        ),
        ("a full tie goes to the balance nearer 0", {0.2: (0.96, 0.95), -0.1: (0.95, 0.96)}, -0.1),
    ],
)
def test_the_balance_rule(name: str, curve: dict[float, tuple[float, float]], want: float) -> None:
    assert choose_balance(curve) == want, name


def test_no_test_sentence_is_in_a_development_part() -> None:
    parts = dev_parts()
    eld_test = set(eld_big_test("test"))
    for name in ("eld_zsm", "eld_fil", "eld_eng"):
        assert not eld_test & set(parts.get(name, [])), name
    if INDONESIAN not in parts:
        pytest.skip("nlp-id is not installed (pip install --no-deps nlp-id)")
    # nlp-id's corpus repeats a few sentences, so the parts are told apart by position: the
    # development part is a prefix that ends before the last 2,000 (the test part) begin.
    everything = nlpid_indonesian(sys.maxsize)
    dev = parts[INDONESIAN]
    assert len(dev) == 3000
    assert dev == everything[: len(dev)]
    assert len(dev) <= len(everything) - len(nlpid_indonesian())


def test_an_error_line_shows_every_detector_and_the_splits_inputs(
    cases: list[SplitCase],
) -> None:
    from silkroute.corpus.langid.combined import CombinedLangId

    model = default_model()
    clearly_malay = cases[0]
    line = evidence_line(CombinedLangId(settle=False), clearly_malay, model)
    for detector in ("fasttext", "cld2", "profiles", "lingua"):
        assert f"'{detector}':" in line, detector
    markers = float(line.split("markers ")[1].split()[0])
    assert markers == pytest.approx(model.evidence(clearly_malay.without_names), abs=0.005)
    assert markers > 0  # "kerajaan", "kerana", "hospital": Malay words
