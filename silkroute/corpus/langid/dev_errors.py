"""Error analysis on the development half of eld's big test (never its test half).

Prints each Malay and Tagalog development sentence the detector gets wrong with the evidence the
Malay/Indonesian split and the Filipino recheck saw, then the confusion counts. Usage:
python -m silkroute.corpus.langid.dev_errors  (needs the `eval` extra: eld's wheel)
"""

from __future__ import annotations

import math
from collections import Counter

from silkroute.corpus.langid.combined import CombinedLangId, _sample, _vote, without_names
from silkroute.corpus.langid.evalsets import eld_big_test
from silkroute.corpus.langid.filipino import _WORD, ENGLISH_WORDS, TAGALOG_WORDS
from silkroute.corpus.langid.malay import lingua_log_odds, names_evidence
from silkroute.corpus.langid.markers import ind_zsm_evidence

LABELS = ("zsm_Latn", "fil_Latn")


def _evidence_line(lid: CombinedLangId, sentence: str) -> str:
    sample = _sample(sentence)
    text = without_names(sample)
    seen: dict[str, dict[str, float]] = {}
    votes = _vote(text, [lid.fasttext, lid.cld2, lid.profiles, lid.lingua], seen)
    vote_odds = math.log((votes.get("zsm_Latn", 0) + 1e-3) / (votes.get("ind_Latn", 0) + 1e-3))
    words = _WORD.findall(text.lower())
    tops = {name: max(s, key=lambda k: s[k]) if s else "-" for name, s in seen.items()}
    return (
        f"  markers {ind_zsm_evidence(text):+.2f} names {names_evidence(sample, text):+.2f} "
        f"lingua {lingua_log_odds(seen['lingua']):+.2f} vote {vote_odds:+.2f} | "
        f"tagalog words {sum(w in TAGALOG_WORDS for w in words)} english words "
        f"{sum(w in ENGLISH_WORDS for w in words)} | tops {tops}"
    )


def main() -> None:
    rows = [(label, text) for label, text in eld_big_test("dev") if label in LABELS]
    if not rows:
        print("eld is not installed (pip install '.[eval]'): nothing to analyse")
        return
    lid = CombinedLangId()
    confusions: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for label, sentence in rows:
        totals[label] += 1
        lang = lid.identify(sentence).lang
        if lang == label:
            continue
        confusions[(label, lang)] += 1
        print(f"{label} -> {lang}: {sentence}")
        print(_evidence_line(lid, sentence))
    for label in LABELS:
        wrong = sum(n for (gold, _), n in confusions.items() if gold == label)
        print(f"{label}: {1 - wrong / totals[label]:.3f} of {totals[label]}")
    for (gold, got), n in confusions.most_common():
        print(f"  {gold} -> {got}: {n}")


if __name__ == "__main__":
    main()
