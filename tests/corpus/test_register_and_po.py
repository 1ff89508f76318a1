"""The register correction of the Malay/Indonesian word table, and the Django translations
evaluation set (its .po reader and its loader, where Django is installed)."""

from __future__ import annotations

import pytest

from silkroute.corpus.langid.build_markers import prose_frequencies, register_corrected
from silkroute.corpus.langid.evalsets import django_translations, po_translations
from silkroute.corpus.langid.markers import WORDFREQ_PATH, _read_table


@pytest.mark.parametrize(
    ("case", "value", "formal_ms", "f_id", "want"),
    [
        # "tersebut": chat-heavy Malay lists say -2.25, formal Malay prose uses it about a fifth
        # as often as Indonesian does -> the lean shrinks to that
        ("a formal word the Malay prose uses shrinks", -2.25, 3.6e-4, 1.7e-3, -1.55),
        # "karena": formal Malay prose never writes it -> its lean stays
        ("a word formal Malay never uses keeps its lean", -3.5, 0.0, 3.2e-3, -3.5),
        # formal Malay uses it more than Indonesian does: never turned Malay, only neutral
        ("an Indonesian lean is never turned into a Malay one", -1.0, 5e-3, 1e-3, 0.0),
        # Malay leans are left alone, however rare the word is in dictionary prose
        ("a Malay lean is left alone", 2.0, 0.0, 1e-5, 2.0),
    ],
)
def test_register_correction(
    case: str, value: float, formal_ms: float, f_id: float, want: float
) -> None:
    assert register_corrected(value, formal_ms, f_id) == pytest.approx(want, abs=0.01), case


def test_prose_frequencies_leave_out_entries_marked_indonesian_or_jakartan() -> None:
    entries = [
        {"word": "abah", "definitions": [{"text": "bapa: ~ pergi ke pasar."}]},
        {"word": "aba", "origin": "Id", "definitions": [{"text": "kata perintah karena"}]},
        {"word": "abang", "origin": "Jk", "definitions": [{"sense": 1, "text": "kakak bisa"}]},
    ]
    freq = prose_frequencies(entries)
    assert set(freq) == {"bapa", "pergi", "ke", "pasar"}
    assert sum(freq.values()) == pytest.approx(1.0)


def test_shipped_table_has_no_register_leans_of_formal_words() -> None:
    """Words formal Malay news writes as often as Indonesian news does no longer lean
    Indonesian in the shipped table by more than the dictionary prose allows."""
    table = dict(_read_table(WORDFREQ_PATH))
    for word in ("masyarakat", "serta", "sudah", "pembangunan", "terutama"):
        assert table.get(word, 0.0) > -0.7, word
    for word in ("karena", "bahwa", "bisa"):  # Indonesian spellings and words keep their lean
        assert table[word] <= -3.0, word


PO = r"""msgid ""
msgstr ""
"Language: ms\n"

#: contrib/admin/actions.py:41
msgid "Are you sure?"
msgstr "Adakah anda pasti?"

#, fuzzy
msgid "Delete"
msgstr "Hapus"

msgid "one item"
msgid_plural "%(count)s items"
msgstr[0] "%(count)s item "
"dipilih"

#~ msgid "Old"
#~ msgstr "Lama"
"""


def test_po_reader_keeps_reviewed_translations_only() -> None:
    # the header, the fuzzy "Hapus" and the obsolete "Lama" are left out; continuation lines join
    assert po_translations(PO) == ["Adakah anda pasti?", "%(count)s item dipilih"]


def test_django_translations_are_told_apart() -> None:
    rows = django_translations()
    if not rows:
        pytest.skip("Django is not installed (pip install '.[eval]'): no Malay/Indonesian UI text")
    labels = {label for label, _ in rows}
    assert labels == {"zsm_Latn", "ind_Latn"}
    assert all("%(" not in text and "<" not in text and len(text) >= 20 for _, text in rows)
