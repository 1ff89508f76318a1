"""Malay vs Indonesian and Filipino vs English on sentences written for these tests (not taken
from any evaluation set), and the two decision modules on their own."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from silkroute.corpus.langid import CombinedLangId, filipino
from silkroute.corpus.langid.combined import without_names
from silkroute.corpus.langid.filipino import recheck
from silkroute.corpus.langid.malay import BALANCE, malay_logit, split_ind_zsm
from silkroute.corpus.langid.markers import (
    DICTIONARY_PATH,
    WORDFREQ_PATH,
    _read_table,
    default_model,
    load_model,
)

DETECTOR = CombinedLangId()


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "Ketua Pegawai Eksekutif Petronas berkata syarikat itu akan bekerjasama dengan "
            "Shell dan ExxonMobil bagi projek gas di Sarawak tahun hadapan.",
            "zsm_Latn",
        ),
        (
            "Pemain Manchester United itu mengalami kecederaan lutut dan tidak dapat beraksi "
            "menentang Liverpool pada hujung minggu ini.",
            "zsm_Latn",
        ),
        (
            "Perdana Menteri bertemu dengan wakil Google, Microsoft dan Amazon Web Services di "
            "Putrajaya semalam untuk membincangkan pelaburan pusat data.",
            "zsm_Latn",
        ),
        (
            "Sinabi ni President Joe Biden na makikipagpulong siya kay Secretary of State "
            "Antony Blinken tungkol sa South China Sea ngayong linggo.",
            "fil_Latn",
        ),
        (
            "Nagbukas ang bagong branch ng Jollibee at McDonald's sa Quezon City kahapon, at "
            "maraming tao ang pumila mula umaga.",
            "fil_Latn",
        ),
        (
            "Ayon sa World Health Organization, hindi pa tapos ang pandemya kaya kailangan "
            "pa rin nating mag-ingat.",
            "fil_Latn",
        ),
        # Names and titles on both sides of the one Malay function word ("dan"): the names
        # alone would leave too little text, so "dan" stays with the Malay words.
        (
            "Presiden Joe Biden dan Prime Minister Anwar Ibrahim membincangkan Indo-Pacific "
            "Economic Framework.",
            "zsm_Latn",
        ),
        (
            "Perdana Menteri Anwar Ibrahim dan Chief Executive Officer Nvidia Jensen Huang "
            "merasmikan Data Centre di Johor.",
            "zsm_Latn",
        ),
        (
            "Menteri Kewangan berkata Bank Negara Malaysia dan World Bank akan menerbitkan "
            "laporan Global Economic Prospects minggu depan.",
            "zsm_Latn",
        ),
        (
            "Presiden Joko Widodo dan Prime Minister Anthony Albanese membahas Indo-Pacific "
            "Economic Framework.",
            "ind_Latn",
        ),
        (
            "Si President Joe Biden at Prime Minister Anwar Ibrahim ay nag-usap tungkol sa "
            "Indo-Pacific Economic Framework.",
            "fil_Latn",
        ),
    ],
)
def test_english_named_entities_do_not_turn_malay_or_filipino_english(text: str, want: str) -> None:
    assert DETECTOR.identify(text).lang == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Saya tidak boleh datang kerana kereta saya rosak di tengah jalan.", "zsm_Latn"),
        (
            "Kerajaan akan memberi bantuan wang kepada mangsa banjir selepas mesyuarat esok.",
            "zsm_Latn",
        ),
        (
            "Pelajar universiti itu mendapat tempat pertama dalam pertandingan sains antarabangsa.",
            "zsm_Latn",
        ),
        ("Pejabat pos di bandar ini ditutup sementara kerana kerja-kerja pembaikan.", "zsm_Latn"),
        ("Dia berkahwin dengan jiran sekampungnya pada bulan Ogos lalu.", "zsm_Latn"),
        ("Polis sedang menyiasat kemalangan jalan raya yang berlaku pagi tadi.", "zsm_Latn"),
        ("Saya tidak bisa datang karena mobil saya mogok di tengah jalan.", "ind_Latn"),
        (
            "Pemerintah akan memberikan bantuan uang kepada korban banjir setelah rapat besok.",
            "ind_Latn",
        ),
        (
            "Mahasiswa universitas itu meraih juara pertama dalam lomba sains internasional.",
            "ind_Latn",
        ),
        ("Kantor pos di kota ini ditutup sementara karena sedang direnovasi.", "ind_Latn"),
        ("Dia menikah dengan tetangga sekampungnya pada bulan Agustus lalu.", "ind_Latn"),
        ("Polisi sedang menyelidiki kecelakaan lalu lintas yang terjadi tadi pagi.", "ind_Latn"),
        # Formal, news-translation style (long sentences, loanwords spelt each standard's way)
        (
            "Para peneliti dari Stanford University menemukan bahwa tes darah baru dapat "
            "mendeteksi kanker lebih awal.",
            "ind_Latn",
        ),
        (
            "Penyelidik dari Universiti Malaya mendapati bahawa ujian darah baharu boleh "
            "mengesan kanser lebih awal.",
            "zsm_Latn",
        ),
        (
            "Kenderaan tentera itu membawa bekalan elektrik ke kawasan banjir selepas projek "
            "itu bermula pada bulan Disember.",
            "zsm_Latn",
        ),
        (
            "Kendaraan tentara itu membawa pasokan listrik ke daerah banjir setelah proyek itu "
            "dimulai pada bulan Desember.",
            "ind_Latn",
        ),
    ],
)
def test_clearly_malay_and_clearly_indonesian_sentences(text: str, want: str) -> None:
    assert DETECTOR.identify(text).lang == want


@pytest.mark.parametrize(
    "text",
    [
        "Nagsa-share kami ng mga tips para sa mga estudyante na gustong mag-apply abroad.",
        "Hindi ko alam kung bakit late na naman ang meeting natin kanina.",
        "Sobrang traffic sa EDSA kaya na-late ako sa trabaho ngayong umaga.",
        "Ang ganda ng bagong phone niya pero ang mahal talaga.",
    ],
)
def test_taglish_stays_filipino(text: str) -> None:
    assert DETECTOR.identify(text).lang == "fil_Latn"


@pytest.mark.parametrize(
    "text",
    [
        "The delegation from Manila visited San Jose and Santa Rosa before the summit ended.",
        "Maria Clara and Juan dela Cruz are characters that every student in the country knows.",
        "Our team stayed at a hotel near Ayala Avenue and flew back on Sunday.",
        "The minister said the new port in Batangas would open to ships next year.",
    ],
)
def test_english_with_filipino_names_stays_english(text: str) -> None:
    assert DETECTOR.identify(text).lang == "eng_Latn"


@pytest.mark.parametrize(
    ("name", "leader", "text", "tops", "want"),
    [
        (
            "taglish that CLD2 calls English",
            "eng_Latn",
            "Nagsa-suggest din kami ng iba't ibang ideas for our future episodes.",
            ["fil_Latn", "fil_Latn"],
            "fil_Latn",
        ),
        (
            "english with one Tagalog tag stays English",
            "eng_Latn",
            "It's not an easy thing for all of us, sabi niya.",
            ["eng_Latn", "fil_Latn"],
            "eng_Latn",
        ),
        (
            "tagalog that CLD2 calls Slovak, both detectors Filipino",
            "sk_Latn",
            "Nandito ako sa showbiz para sa trabaho.",
            ["fil_Latn", "fil_Latn"],
            "fil_Latn",
        ),
        (
            "slovak stays Slovak when fastText says Slovak",
            "sk_Latn",
            "Ako sa máš, je to na stole pri okne?",
            ["sk_Latn", "fil_Latn"],
            "sk_Latn",
        ),
        (
            "cebuano with Cebuano words stays Cebuano",
            "ceb_Latn",
            "Si Pedro niingon nga dili siya moadto karon kay daghan kaayo ug trabaho.",
            ["fil_Latn", "fil_Latn"],
            "ceb_Latn",
        ),
        (
            "kapampangan is never moved (reported uncertain elsewhere)",
            "pam_Latn",
            "Ing tau ay malaya at ang mga karapatan ng tao.",
            ["fil_Latn", "fil_Latn"],
            "pam_Latn",
        ),
        (
            "malay is never moved",
            "zsm_Latn",
            "Ang mga ito hindi naman sa kita.",
            ["fil_Latn", "fil_Latn"],
            "zsm_Latn",
        ),
    ],
)
def test_filipino_recheck(name: str, leader: str, text: str, tops: list[str], want: str) -> None:
    assert recheck(leader, text, lambda: list(tops)) == want, name


def test_filipino_recheck_asks_no_detector_without_tagalog_words() -> None:
    def fail() -> list[str | None]:
        raise AssertionError("a detector was asked")

    assert recheck("eng_Latn", "The weather in Manila was hot and humid all week.", fail) == (
        "eng_Latn"
    )


def reference_agreement_needed(leader: str, text: str) -> str | None:
    """`filipino._agreement_needed` as first written: every rule on the word tokens."""
    if leader == filipino.FIL or leader in filipino._KEEP:
        return None
    lowered = text.lower()
    if filipino.TAGALOG_WORDS.isdisjoint(lowered.split()):
        return None
    words = filipino._WORD.findall(lowered)
    tagalog = sum(word in filipino.TAGALOG_WORDS for word in words)
    if tagalog < filipino.MIN_TAGALOG_WORDS:
        return None
    if leader == filipino.ENG:
        return "one" if tagalog > sum(word in filipino.ENGLISH_WORDS for word in words) else None
    if leader in filipino.PHILIPPINE and (
        any(word in filipino.OTHER_PHILIPPINE_WORDS for word in words)
        or not any(word in filipino.TAGALOG_ONLY_WORDS for word in words)
    ):
        return None
    return "all"


def test_the_filipino_rule_matches_its_plain_form_for_every_kind_of_leader() -> None:
    rng = random.Random(11)
    vocabulary = sorted(filipino.TAGALOG_WORDS | filipino.OTHER_PHILIPPINE_WORDS)
    vocabulary += sorted(filipino.TAGALOG_ONLY_WORDS | filipino.ENGLISH_WORDS)
    vocabulary += ["Ug", "sa,", "ug.", "x"]
    vocabulary += ["(ang", "ng'", "kini-kana", "ANG", "rin’", "the", "casa", "ako"]
    leaders = ["ceb_Latn", "war_Latn", "ilo_Latn", "eng_Latn", "slk_Latn", "fil_Latn", "ind_Latn"]
    for _ in range(6000):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 9)))
        for leader in leaders:
            expected = reference_agreement_needed(leader, text)
            assert filipino._agreement_needed(leader, text) == expected, (leader, text)


def test_lingua_odds_move_a_neutral_sentence_and_markers_outweigh_them() -> None:
    votes = {"ind_Latn": 0.5, "zsm_Latn": 0.5}
    malay_lingua = {"zsm_Latn": 0.9, "ind_Latn": 0.1}
    assert malay_logit(votes, 0.0, malay_lingua) > BALANCE
    assert malay_logit(votes, 0.0, None) == BALANCE
    # Two spelling markers ("karena", "bahwa": -3 each) beat lingua's surest Malay.
    assert malay_logit(votes, -6.0, {"zsm_Latn": 1.0, "ind_Latn": 0.0}) < 0


def test_split_keeps_the_mass_and_leaves_other_leaders_alone() -> None:
    votes = {"ind_Latn": 0.4, "zsm_Latn": 0.3, "eng_Latn": 0.1}
    split_ind_zsm(votes, 3.0, None)
    assert votes["zsm_Latn"] > votes["ind_Latn"]
    assert votes["zsm_Latn"] + votes["ind_Latn"] == pytest.approx(0.7)
    english = {"eng_Latn": 0.6, "ind_Latn": 0.2, "zsm_Latn": 0.1}
    split_ind_zsm(english, 5.0, None)
    assert english == {"eng_Latn": 0.6, "ind_Latn": 0.2, "zsm_Latn": 0.1}


def test_joining_words_between_names_are_dropped_only_when_enough_text_is_left() -> None:
    assert without_names("Kerajaan akan bekerjasama dengan Department of Health minggu ini.") == (
        "Kerajaan akan bekerjasama dengan minggu ini."
    )
    assert without_names("Presiden Joe Biden dan Prime Minister Anwar membincangkan.") == (
        "Presiden dan membincangkan."
    )


def test_the_iti_suffix_rule_yields_to_a_words_own_counts() -> None:
    model = default_model()
    assert model.word_weight("peneliti") < 0  # pe- + teliti: Indonesian "researcher"
    assert model.word_weight("aktiviti") > 0  # Malay -iti (Indonesian "aktivitas")
    assert model.word_weight("aktivitas") < 0


def test_a_dictionary_confirmed_word_counts_its_full_log_odds(tmp_path: Path) -> None:
    markers = tmp_path / "markers.txt"
    markers.write_text("bahawa\t3\n", encoding="utf-8")
    table = tmp_path / "wordfreq.txt"
    table.write_text("kenderaan\t2.4\nkendaraan\t-2.4\nsekolah\t1.8\n", encoding="utf-8")
    confirmed = tmp_path / "dictionary.txt"
    confirmed.write_text("# header\nkenderaan\tzsm\nkendaraan\tind\n", encoding="utf-8")
    with_dictionary = load_model(markers, table, confirmed)
    without = load_model(markers, table, None)
    assert with_dictionary.word_weight("kenderaan") == pytest.approx(2.4)
    assert with_dictionary.word_weight("kendaraannya") == pytest.approx(-2.4)
    assert without.word_weight("kenderaan") == pytest.approx(1.2)  # shrunk x0.5
    # words the dictionaries do not confirm keep the shrunk weight either way
    assert with_dictionary.word_weight("sekolah") == without.word_weight("sekolah")


def test_the_shipped_dictionary_file_agrees_with_the_word_frequencies() -> None:
    log_odds = dict(_read_table(WORDFREQ_PATH))
    rows = [
        line.split("\t")
        for line in DICTIONARY_PATH.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(rows) > 500
    for word, label in rows:
        assert abs(log_odds[word]) >= 1.5, word
        assert (log_odds[word] > 0) == (label == "zsm"), word
    words = {word for word, _ in rows}
    assert {"bilion", "kenderaan", "tentera"} <= words and {"miliar", "kendaraan"} <= words
    assert not {"digital", "program", "hal", "para"} & words  # loans and common words
