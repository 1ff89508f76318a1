"""language_filter after langid on regional-language text: the same decision for every language.

The sentences are held-out UDHR lines (public domain; NLTK's udhr2), not lines the trigram
profiles learnt, so this runs without ../shared.
"""

from __future__ import annotations

import pytest

from silkroute.corpus.document import Document
from silkroute.corpus.pipeline.stats import StageStats
from silkroute.corpus.stages.filters import LanguageFilter, LanguageFilterParams
from silkroute.corpus.stages.text import LangId, LangIdParams

BIKOL = (
    "An familia iyo an natural asin fundamental na grupo-elemento kan banwaan asin igwa nin"
    " derecho sa proteccion kan banwaan asin kan Estado."
)
MINANGKABAU = "Tiok urang punyo hak mamiliki harato surang, baitu pulo basamo-samo jo urang lain."
# Minangkabau the vote calls Indonesian; the profiles see Minangkabau: marked uncertain.
MINANGKABAU_AS_INDONESIAN = (
    "Kaum ibu jo anak-anak punyo hak mandapek linduangan dan bantuan khusus. Sakalian anak, nan"
    " dilahiakan di dalam maupun di lua parkawinan, musti mandapek linduangan sosial nan samo."
)


@pytest.fixture(scope="module")
def labelled() -> list[Document]:
    docs = [
        Document("bcl", BIKOL),
        Document("min", MINANGKABAU),
        Document("min-as-ind", MINANGKABAU_AS_INDONESIAN),
    ]
    return list(LangId(LangIdParams()).run(docs, StageStats()))


def test_langid_labels_the_pair_and_marks_the_relabelled_one(labelled: list[Document]) -> None:
    got = {doc.id: (doc.lang, doc.meta.get("lang_uncertain")) for doc in labelled}
    assert got == {
        "bcl": ("bcl_Latn", None),
        "min": ("min_Latn", None),
        "min-as-ind": ("ind_Latn", "min_Latn"),
    }


@pytest.mark.parametrize(
    ("name", "uncertain", "kept", "removed"),
    [
        (
            "by default right regional labels pass min_score and the uncertain one is kept",
            "keep",
            ["bcl", "min", "min-as-ind"],
            {},
        ),
        (
            "drop removes only the uncertain one",
            "drop",
            ["bcl", "min"],
            {"language_uncertain": 1},
        ),
        (
            "only keeps the uncertain one for review",
            "only",
            ["min-as-ind"],
            {"language_certain": 2},
        ),
    ],
)
def test_language_filter_keeps_right_regional_labels_and_follows_the_uncertain_setting(
    labelled: list[Document],
    name: str,
    uncertain: str,
    kept: list[str],
    removed: dict[str, int],
) -> None:
    stage = LanguageFilter(LanguageFilterParams.model_validate({"uncertain": uncertain}))
    stats = StageStats()
    docs = [Document(doc.id, doc.text, dict(doc.meta)) for doc in labelled]
    out = list(stage.run(docs, stats))
    assert stage.params.min_score == 0.5, name  # the example pipeline's setting
    assert [doc.id for doc in out] == kept, name
    assert dict(stats.removed) == removed, name
    counted = {"uncertain_kept:ind_Latn": 1} if "min-as-ind" in kept else {}
    assert dict(stats.counters) == counted, name


def test_an_unknown_uncertain_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="uncertain"):
        LanguageFilterParams.model_validate({"uncertain": "maybe"})
