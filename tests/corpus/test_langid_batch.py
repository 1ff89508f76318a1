"""The fast language-ID path gives the labels of the plain one: batches, skipped detectors, the
regex name rule, the batched profiles and the batched stage."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from silkroute.corpus.document import Document
from silkroute.corpus.langid import CombinedLangId
from silkroute.corpus.langid import combined as combined_module
from silkroute.corpus.langid.detectors import OneLine, first_words, single_spaced
from silkroute.corpus.langid.evalsets import (
    authored,
    chatterbot_indonesian,
    eld_big_test,
    nlpid_indonesian,
)
from silkroute.corpus.langid.malay import IND, ZSM, lingua_term, split_ind_zsm
from silkroute.corpus.langid.profiles import ProfileDetector
from silkroute.corpus.langid.settle import EPS, Bounder
from silkroute.corpus.pipeline.config import PipelineConfig
from silkroute.corpus.pipeline.stats import StageStats
from silkroute.corpus.stages.text import LangId

from .conftest import paragraphs

EDGE_CASES = [
    "",
    "12345 678",
    "ok",
    "  \n\t ",
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย",
    "ၵႂၢမ်းတႆး ၽႃႇသႃႇတႆး လိၵ်ႈတႆး",
    "ひらがなとカタカナと漢字の文章です",
    "Это предложение написано по-русски.",
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam.",
    "Kerajaan bahawa kanak-kanak hendaklah",
    "Pemerintah menyatakan bahwa karena kualitas",
    "Inanunsyo ng Department of Health at World Health Organization ang bagong programa.",
    "The Prime Minister met Microsoft and Google in Kuala Lumpur yesterday.",
]
# The Indonesian/Malay split and the Filipino recheck (`malay.py`, `filipino.py`) after the vote:
# distinctive name words, English names around Malay/Tagalog words, Taglish, Tagalog that CLD2
# calls Slovak, English with Filipino names, and sentences with no Malay/Indonesian evidence.
MALAY_AND_FILIPINO = [
    "Menteri Kewangan berkata Bank Negara Malaysia dan International Monetary Fund menjangkakan "
    "pertumbuhan ekonomi yang lebih perlahan tahun ini.",
    "Presiden Joe Biden dan Prime Minister Anwar membincangkan.",
    "Pelajar Universiti Malaya menyertai program sukarelawan anjuran Majlis Perbandaran "
    "Petaling Jaya minggu lalu.",
    "Pemerintah Provinsi DKI Jakarta akan membangun rumah sakit baru di kawasan Jakarta Timur "
    "tahun depan.",
    "Mahasiswa Universitas Indonesia mengadakan diskusi tentang kebijakan energi bersama "
    "Kementerian ESDM.",
    "Dia pergi ke pasar pagi tadi.",
    "Kami makan nasi goreng bersama keluarga.",
    "Grabe, sobrang traffic kanina sa EDSA kaya late na ako nakarating sa meeting namin.",
    "Hindi ko na kaya ang deadline na ito, pero I will try my best talaga.",
    "Nag-announce ang company na may bonus lahat ng employees ngayong Pasko.",
    "Nandito ako sa bahay para magpahinga.",
    "Huwag mo naman akong iwan dito.",
    "Sinabi ni President Joe Biden na makikipagpulong siya kay Secretary of State Antony Blinken.",
    "Senator Bong Go visited Barangay San Isidro in Quezon City on Monday.",
    "The Ministry of Health of Malaysia said the new clinic at Kuala Lumpur will open next month.",
    "I think the meeting is at three, pero hindi ako sure kung pupunta siya.",
]
UDHR_CODES = ["ind", "mly_latn", "min", "pam", "bcl", "ilo", "ace", "tgl", "eng", "vie", "tha"]


def mixed_sample(udhr_dir: Path | None) -> list[str]:
    """Short sentences (authored, eld's news where installed), long UDHR documents in Latin and
    other scripts, and edge cases, shuffled with a fixed seed."""
    texts = [text for _, text in authored()] + EDGE_CASES + MALAY_AND_FILIPINO
    texts += [text for _, text in eld_big_test()][::40]
    # Malay and Tagalog news more densely: where the split and the recheck decide most
    texts += [t for label, t in eld_big_test() if label == "zsm_Latn"]
    texts += [t for label, t in eld_big_test() if label == "fil_Latn"][1::4]
    texts += [text for _, text in nlpid_indonesian(200) + chatterbot_indonesian()[::4]]
    if udhr_dir is not None:
        for code in UDHR_CODES:
            texts += paragraphs(udhr_dir, code, per_doc=8)[:6]
    random.Random(16).shuffle(texts)
    return texts


@pytest.fixture(scope="module")
def detector() -> CombinedLangId:
    return CombinedLangId()


@pytest.fixture(scope="module")
def sample() -> list[str]:
    data = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    return mixed_sample(data if (data / "udhr").is_dir() else None)


def test_a_batch_labels_each_document_exactly_as_it_would_be_labelled_alone(
    sample: list[str],
) -> None:
    alone = CombinedLangId()
    one_at_a_time = [alone.identify(text) for text in sample]
    batched = CombinedLangId().identify_batch(sample)
    assert batched == one_at_a_time
    # Another order and copies in the batch change nothing either.
    order = list(reversed(range(len(sample))))
    again = CombinedLangId().identify_batch([sample[i] for i in order] + sample[:20])
    assert again[: len(sample)] == [one_at_a_time[i] for i in order]
    assert again[len(sample) :] == one_at_a_time[:20]


def test_a_batch_with_more_distinct_texts_than_the_cache_holds_is_labelled_whole(
    sample: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = CombinedLangId().identify_batch(sample)
    monkeypatch.setattr(combined_module, "DECIDED_CACHE", 8)
    assert CombinedLangId().identify_batch(sample) == expected


def test_loading_every_model_first_loads_lingua_and_changes_no_label(sample: list[str]) -> None:
    expected = CombinedLangId().identify_batch(sample)
    loaded = CombinedLangId()
    loaded.load()
    assert "lingua" in vars(loaded)  # the lazily loaded detector is there before any document
    assert loaded.identify_batch(sample) == expected


def test_skipping_fasttext_and_lingua_where_they_cannot_matter_changes_no_label(
    sample: list[str], detector: CombinedLangId
) -> None:
    """Running every detector on every document gives the same labels and uncertain flags."""
    full = CombinedLangId(settle=False).identify_batch(sample)
    fast = detector.identify_batch(sample)
    assert [(r.lang, r.uncertain) for r in fast] == [(r.lang, r.uncertain) for r in full]


def test_fasttext_and_lingua_are_skipped_on_most_long_documents(udhr_dir: Path) -> None:
    detector = CombinedLangId()
    calls = {"fasttext": 0, "lingua": 0}
    for name in calls:
        scores = getattr(detector, name).scores

        def counted(text: str, name: str = name, scores=scores):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return scores(text)

        getattr(detector, name).scores = counted
    docs = [
        doc
        for code in ("ace", "ban", "tet", "ind", "mly_latn")
        for doc in paragraphs(udhr_dir, code, 8)
    ]
    detector.identify_batch(docs)
    # Acehnese, Balinese, Tetum: only the profiles know them, so fastText cannot outvote them;
    # Indonesian and Malay: fastText runs, but the marker split settles them without lingua.
    assert calls["fasttext"] <= 0.5 * len(docs)
    assert calls["lingua"] <= 0.1 * len(docs)


@pytest.mark.parametrize(
    ("name", "text", "limit", "expected"),
    [
        ("a text within the limit is only put on one line", "a  b\nc", 10, "a b c"),
        (
            "a longer text ends at the last word within the limit",
            "alpha beta gamma",
            12,
            "alpha beta",
        ),
        ("a text on one line ends there too", OneLine("alpha beta gamma"), 12, "alpha beta"),
        (
            "a space just past the limit keeps the whole last word",
            "alpha beta gamma",
            10,
            "alpha beta",
        ),
        ("a word longer than half the limit is cut inside", "a verylongwordhere", 10, "a verylong"),
    ],
)
def test_first_words_cut_a_text_at_a_word_boundary_on_one_line(
    name: str, text: str, limit: int, expected: str
) -> None:
    cut = first_words(text, limit)
    assert (cut, type(cut)) == (expected, OneLine), name


def test_cld2_reads_a_short_sample_only_where_the_profiles_name_a_language_it_knows(
    udhr_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """English (CLD2 knows it): CLD2 reads the first SHORT_CHARS; Tetum, Acehnese (only our
    profiles know them): the whole sample, as CLD2 names a neighbour from too little text.
    fastText reads SHORT_CHARS of any Latin sample."""
    detector = CombinedLangId()
    cld2_read: list[int] = []
    cld2_scores = detector.cld2.scores

    def cld2_reading(text: str) -> dict[str, float]:
        cld2_read.append(len(text))
        return cld2_scores(text)

    fasttext_read: list[int] = []
    model = detector.fasttext.model
    predict = model.predict

    def fasttext_reading(text: str, k: int) -> object:
        fasttext_read.append(len(text))
        return predict(text, k)

    monkeypatch.setattr(detector.cld2, "scores", cld2_reading)
    monkeypatch.setattr(model, "predict", fasttext_reading)
    docs = [paragraphs(udhr_dir, code, 8)[0] for code in ("eng", "tet", "ace", "pam", "bcl")]
    whole = [len(combined_module.without_names(combined_module._sample(doc))) for doc in docs]
    assert min(whole) > combined_module.SHORT_CHARS
    detector.identify_batch(docs)
    english, tetum, acehnese, *_ = cld2_read
    assert english <= combined_module.SHORT_CHARS
    assert [tetum, acehnese] == whole[1:3]
    # fastText runs on Kapampangan and Bikol (it can still change their label)
    assert fasttext_read and max(fasttext_read) <= combined_module.SHORT_CHARS


def reference_without_names(text: str) -> str:
    """The rule `without_names` documents, one word at a time."""
    words = text.split()
    named = [False] * len(words)
    start = True
    for i, word in enumerate(words):
        if not start:
            named[i] = word.lstrip(combined_module._OPENERS)[:1].isupper()
        start = word[-1] in combined_module._SENTENCE_END
    joined = list(named)
    for i in range(1, len(words) - 1):
        if not named[i] and len(words[i]) <= 3 and named[i - 1] and named[i + 1]:
            joined[i] = True
    kept = [word for word, is_name in zip(words, joined, strict=True) if not is_name]
    if len(kept) < combined_module.MIN_WORDS_LEFT:  # the joining words stay rather than all
        kept = [word for word, is_name in zip(words, named, strict=True) if not is_name]
    return " ".join(kept) if len(kept) >= combined_module.MIN_WORDS_LEFT else text


def test_single_spacing_is_joining_the_split_words_for_every_kind_of_space() -> None:
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    # the fast path's premise: the space is the one printable character `split()` breaks at
    assert [space for space in spaces if space.isprintable()] == [" "]
    for space in spaces:  # each break alone, doubled, at the ends, and beside a newline
        for text in (f"a{space}b", f"a{space}{space}b", f"{space}a b{space}", f"a\n{space}b"):
            assert single_spaced(text) == " ".join(text.split()), repr(text)
    rng = random.Random(3)
    alphabet = ["a", "é", "B", "\n", " ", "  ", "\r\n", *spaces]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        assert single_spaced(text) == " ".join(text.split()), repr(text)


def test_dropping_names_by_regex_matches_the_word_by_word_rule(sample: list[str]) -> None:
    rng = random.Random(7)
    vocabulary = ["Dept", "of", "the", "A", "x", "(Foo", '"Bar', ",Baz", "end.", "ok!", "de", "dan"]
    vocabulary += ["Kuala", "Lumpur", "...", "a;", "Q", "((", "IBM", "no?", "'s", "Of", "X.", "Éa"]
    # capitals beyond ASCII and beyond the Basic Multilingual Plane; a titlecase letter (not upper)
    vocabulary += ["“Ân", "Hà", "ΣΑ", "y…", "«Ab", "\U0001d400bc", "\u01c5em", "\u24b6b", "ủa"]
    made = [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12))) for _ in range(3000)
    ]
    made += [text.replace(" ", "\n  \t", 2) + " " for text in made[:500]]
    for text in [*sample, *made]:
        assert combined_module.without_names(text) == reference_without_names(text), text


def test_profiles_score_a_batch_as_they_score_each_text(sample: list[str]) -> None:
    profiles = ProfileDetector()
    assert profiles.scores_batch(sample) == [profiles.scores(text) for text in sample]
    # On one line too: a final sigma, a dotted capital I (lowered to two characters), empty and
    # over-long texts and a character beyond the BMP score as each does alone and as plain text.
    lines = [OneLine(" ".join(text.split())) for text in sample]
    lines[3:3] = [
        OneLine(t) for t in ("ΟΔΟΣ ΣΑΣ.", "", "İstanbul İzmir", "Ab " * 800, "x", "a𝐀b ab")
    ]
    batch = profiles.scores_batch(lines)
    assert batch == [profiles.scores(text) for text in lines]
    assert batch == profiles.scores_batch([str(text) for text in lines])
    assert [list(s) for s in batch] == [list(profiles.scores(str(text))) for text in lines]


def test_the_langid_stage_annotates_in_batches_as_one_document_at_a_time(
    sample: list[str],
) -> None:
    stage = LangId(None)
    batched = list(stage.run([Document(str(i), t) for i, t in enumerate(sample)], StageStats()))
    alone = [stage.process(Document(str(i), t), StageStats()) for i, t in enumerate(sample)]
    assert [doc.meta for doc in batched] == [doc.meta for doc in alone]  # type: ignore[union-attr]


class Voter:
    def __init__(self, name: str, known: set[str]) -> None:
        self.name = name
        self.known_labels = frozenset(known)


WEIGHTS = {"fasttext": 1.0, "cld2": 1.4, "profiles": 0.8}
FASTTEXT = Voter("fasttext", {"eng", "ind", "fil", "als"})
CLD2 = Voter("cld2", {"eng", "ind", "fil"})
PROFILES = Voter("profiles", {"eng", "ind", "fil", "ace"})


@pytest.mark.parametrize(
    ("name", "cld2", "profiles", "settled"),
    [
        # Acehnese: only the profiles know it, so its vote is the profiles' 0.99 whatever
        # fastText says; no rival can reach it (Indonesian at most (1.4 * 0.1 + 1) / 3.2).
        (
            "a label only the consulted detectors know is settled",
            {"ind": 0.1},
            {"ace": 0.99},
            "ace",
        ),
        # English leads on CLD2 and the profiles (0.37), but fastText's whole weight on
        # Indonesian would lift Indonesian past it (up to 0.63).
        (
            "a rival fastText could lift blocks settling",
            {"eng": 0.5, "ind": 0.5},
            {"eng": 0.6, "ind": 0.4},
            None,
        ),
        # Alemannic is known to fastText alone: not counted as a rival (our one rule).
        ("a label only fastText knows is no rival", {}, {"ace": 0.9}, "ace"),
        ("nothing named settles nothing", {}, {}, None),
    ],
)
def test_vote_bounds_settle_only_what_fasttext_cannot_change(
    name: str, cld2: dict[str, float], profiles: dict[str, float], settled: str | None
) -> None:
    bounds = Bounder(WEIGHTS, 0.8).bounds(
        {"cld2": cld2, "profiles": profiles}, [CLD2, PROFILES], [FASTTEXT]
    )
    assert bounds.leader() == settled, name
    # Every label's reachable range holds the vote with fastText at its extremes.
    for label in bounds.low:
        able = sum(WEIGHTS[d.name] for d in (FASTTEXT, CLD2, PROFILES) if label in d.known_labels)
        total = 1.4 * cld2.get(label, 0.0) + 0.8 * profiles.get(label, 0.0)
        assert bounds.low[label] == pytest.approx(total / able)
        if label in FASTTEXT.known_labels:
            assert bounds.high[label] == pytest.approx((total + 1.0) / able)


def test_the_langid_stage_reads_sample_chars_characters_of_latin_text() -> None:
    english = "The weather was cold and windy, so we stayed at home and read books all day. "
    indonesian = "Pemerintah menyatakan bahwa kualitas pendidikan di sekolah harus ditingkatkan. "
    text = english * 2 + indonesian * 12
    config = PipelineConfig.model_validate(
        {
            "input": {"paths": ["."]},
            "output": {"dir": "."},
            "stages": [
                {"name": "langid", "params": {"sample_chars": 150}},
                {"name": "langid"},
            ],
        }
    )
    short, default = config.build_stages()
    (read_short,) = short.run([Document("a", text)], StageStats())
    (read_default,) = default.run([Document("a", text)], StageStats())
    assert (read_short.lang, read_default.lang) == ("eng_Latn", "ind_Latn")


def reference_split_corners(
    ind_votes: tuple[float, float],
    zsm_votes: tuple[float, float],
    evidence: float,
    lingua: tuple[dict[str, float] | None, ...],
) -> tuple[set[str], float] | None:
    """The corners as first written: a vote dictionary split by `split_ind_zsm`, then sorted."""
    winners: set[str] = set()
    share = 1.0
    for ind_vote in ind_votes:
        for zsm_vote in zsm_votes:
            for lingua_scores in lingua:
                corner = {IND: ind_vote, ZSM: zsm_vote}
                split_ind_zsm(corner, evidence, lingua_scores)
                winner, loser = sorted((IND, ZSM), key=lambda k: -corner[k])
                if corner[winner] <= corner[loser] + EPS:
                    return None
                winners.add(winner)
                share = min(share, corner[winner] / (ind_vote + zsm_vote))
    return winners, share


def test_the_indonesian_malay_corners_are_split_as_split_ind_zsm_splits_them() -> None:
    rng = random.Random(5)
    extremes: tuple[dict[str, float] | None, ...] = ({IND: 1.0}, {ZSM: 1.0})
    values = [0.0, 0.0, 1e-12, 0.001, 0.25, 0.5, 0.999]

    def low_high() -> tuple[float, float]:
        low, high = sorted(rng.choice([*values, rng.random()]) for _ in range(2))
        return low, high

    for _ in range(4000):
        ind, zsm = low_high(), low_high()
        evidence = rng.choice([0.0, 0.2, -0.2, rng.uniform(-8, 8)])
        ran: dict[str, float] = {rng.choice([IND, ZSM, "eng_Latn"]): rng.random()}
        for lingua in (extremes, (None,), (ran,)):
            terms = tuple(lingua_term(scores) for scores in lingua)
            got = combined_module._split_corners(ind, zsm, evidence, terms)
            assert got == reference_split_corners(ind, zsm, evidence, lingua)
