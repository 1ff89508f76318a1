"""Filipino that the vote hands to English, a European language or Cebuano.

CLD2 is sure (0.95+) and wrong on short Tagalog and Taglish sentences: "Nandito ako sa showbiz
para sa trabaho." is Slovak to it (ako, sa, na are Slovak words), "Hindi mo maiku-compare sa
matagal na naging relasyon mo" English, "Huwag mo naman akong i-abandon." Cebuano. Its weight
and its knowing labels the other detectors lack (their silence does not count against it) let
it win the vote. Tagalog's grammatical words are a closed class that no other language in sight
uses, so a count of them is hard evidence; a statistical detector must agree as well.

`recheck` runs only where the leader is not Filipino, costs one regular-expression scan, and
asks a detector only when the text holds at least MIN_TAGALOG_WORDS of those words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

FIL = "fil_Latn"
ENG = "eng_Latn"


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Tagalog function words, markers and pronouns that are not English words ("at", "may" are left
# out). Some are Slovak or Spanish words too ("sa", "na", "ako", "pa", "po", "para", "ni"): a
# sentence led by a language other than English moves only where the detectors agree as well.
TAGALOG_WORDS = _words(
    "ang ng mga ay ito iyon iyan hindi huwag naman lang lamang siya niya nila kami tayo namin "
    "natin ninyo kayo sila kanila kanyang kaniyang nang yung iyong dito doon diyan ngayon rin din "
    "sina nasa talaga kasi daw raw pala akong siyang niyang ating aming ba kay nga ko mo ilang "
    "isang mayroon wala walang sa na ako pa po para ni si kung"
)
# Words of Cebuano, Waray, Hiligaynon, Bikol and Ilocano that Tagalog does not use: any of them
# and a sentence the vote gave to such a language stays there.
OTHER_PHILIPPINE_WORDS = _words(
    "ug kini kana dili usa niini adunay gyud karon unsa kaayo niadto ngadto kaniya hiya han ngan "
    "asin kan nin an iya ini didto diri og mao among nako nimo atong ato ila gani pud sab usab "
    "aron bisan tungod daghan gamay unya dayon hin waray dai saro ti dagiti ken iti wenno tapno "
    "isu ket"
)
# Tagalog words that Cebuano, Waray, Hiligaynon, Bikol and Ilocano do not share: a sentence the
# vote gave to one of those moves only if it holds one of these.
TAGALOG_ONLY_WORDS = _words(
    "ng ay ito iyon hindi huwag naman nang yung iyong nila namin natin ninyo kayo kanyang "
    "kaniyang dito doon ngayon rin lamang siyang niyang talaga kasi"
)
# English grammatical words: Taglish is Filipino while Tagalog's words outnumber them.
ENGLISH_WORDS = _words(
    "the a an of to in on for with is are was were be been it its this that these those and or "
    "but not no i you he she we they my your our their his her me us them what which who will "
    "would can could have has had do does did from by as so if than then there"
)
# Two Tagalog words make a sentence a candidate; one ("ang", "sa") is too easily a name or a
# word of another language.
MIN_TAGALOG_WORDS = 2
# Sister languages of the Philippines the vote may name instead of Filipino.
PHILIPPINE = frozenset({"ceb_Latn", "war_Latn", "ilo_Latn"})
# Labels never moved: the region's other languages (their own words decide them) and the regional
# languages only the profiles know (`combined.REGIONAL`; reported uncertain there instead).
_KEEP = frozenset(
    {"ind_Latn", "zsm_Latn", "jav_Latn", "sun_Latn", "vie_Latn", "tet_Latn", "min_Latn"}
    | {"pam_Latn", "bcl_Latn", "hil_Latn", "ban_Latn", "bug_Latn", "mad_Latn", "ace_Latn"}
)
_WORD = re.compile(r"[a-z]+(?:['’-][a-z]+)*")


def recheck(leader: str, text: str, detector_tops: Callable[[], list[str | None]]) -> str:
    """The leader, or Filipino where the text's Tagalog words say so and the detectors agree.

    `text` is the names-stripped sample the vote saw; `detector_tops` returns the top labels of
    the statistical detectors to consult (fastText, lingua), computed only when needed. English
    yields to Filipino when Tagalog's words outnumber English's and one detector says Filipino;
    any other language (Slovak, Cebuano...) only when every detector says Filipino."""
    agreement = _agreement_needed(leader, text)
    if agreement is None:
        return leader
    tops = detector_tops()
    if agreement == "one":
        return FIL if FIL in tops else leader
    return FIL if tops and all(top == FIL for top in tops) else leader


def asks_detectors(leader: str, text: str) -> bool:
    """Whether `recheck` would consult the detectors (where it would not, it keeps the leader):
    the batched path runs fastText and lingua for the recheck exactly where this holds."""
    return _agreement_needed(leader, text) is not None


def _agreement_needed(leader: str, text: str) -> Literal["one", "all"] | None:
    """How many detectors must say Filipino to move `leader`; None where the words alone keep it."""
    if leader == FIL or leader in _KEEP:
        return None
    lowered = text.lower()
    spaced = lowered.split()
    if TAGALOG_WORDS.isdisjoint(spaced):  # the common case, ~5 us: no Tagalog at all
        return None
    # A sister language's own word standing alone between spaces is one of the word tokens
    # below too (they are all plain letters), which keeps such a leader whatever else is there:
    # known without tokenising (Cebuano, Waray and Ilocano documents share Tagalog's "sa", "ang").
    if leader in PHILIPPINE and not OTHER_PHILIPPINE_WORDS.isdisjoint(spaced):
        return None
    words = _WORD.findall(lowered)
    tagalog = sum(map(TAGALOG_WORDS.__contains__, words))
    if tagalog < MIN_TAGALOG_WORDS:
        return None
    if leader == ENG:
        return "one" if tagalog > sum(map(ENGLISH_WORDS.__contains__, words)) else None
    if leader in PHILIPPINE and (
        not OTHER_PHILIPPINE_WORDS.isdisjoint(words) or TAGALOG_ONLY_WORDS.isdisjoint(words)
    ):
        return None
    return "all"
