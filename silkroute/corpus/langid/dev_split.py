"""The Indonesian/Malay split on the development parts only: the detector runs once, a marker
table is then re-scored in seconds.

Development parts (never a test part; docs/corpus.md "Indonesian vs Malay"): eld's dev half
(Malay, Tagalog, English), nlp-id's first 3,000 sentences outside its last 2,000, the UDHR
training halves of Indonesian and Malay, and `dev_authored.txt`. The full detector labels each
sentence once and records what the split read (the vote, lingua's scores, the sample with and
without names); a marker model, the shipped one or one loaded from rebuilt tables, is then
re-scored through `malay.split_ind_zsm` with BALANCE swept over -0.5..0.5 in steps of 0.05 and
chosen by the rule of rounds 2-4: the higher of the lower of Malay (eld dev) and Indonesian
(nlp-id dev) accuracy, ties to the higher mean. Prints the accuracy per part at the shipped
BALANCE and at the chosen one, the errors by length and by kind, and the curve; with
`--show-errors`, each Malay and Tagalog sentence of eld's dev half still wrong at the chosen
BALANCE, with every detector's top label and the marker, name, lingua and vote log-odds, and
for Tagalog the Filipino recheck's word counts. Usage:
    python -m silkroute.corpus.langid.dev_split [--wordfreq P] [--dictionary P] [--markers P]
        [--show-errors]
(needs eld's wheel, the `eval` extra, and `pip install --no-deps nlp-id`; the UDHR halves need
../shared/data; a part whose source is missing is left out).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from silkroute.corpus.langid import combined, malay
from silkroute.corpus.langid.detectors import Detector
from silkroute.corpus.langid.evalsets import (
    AUTHORED_PATH,
    MIN_CHARS,
    eld_big_test,
    nlpid_indonesian,
)
from silkroute.corpus.langid.filipino import _WORD as _FILIPINO_WORD
from silkroute.corpus.langid.filipino import ENGLISH_WORDS, TAGALOG_WORDS
from silkroute.corpus.langid.markers import (
    DICTIONARY_PATH,
    MARKERS_PATH,
    WORDFREQ_PATH,
    MarkerModel,
    load_model,
)
from silkroute.corpus.langid.udhr import UDHR_FILES, split_train_test, udhr_lines

DATA_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
NLPID_TEST = 2000  # nlp-id's last sentences: the test part (`evalsets.nlpid_indonesian`)
NLPID_DEV = 3000
MALAY, INDONESIAN = "eld_zsm", "nlpid_dev"  # the two parts the balance rule reads
BALANCES = [round(-0.5 + 0.05 * i, 2) for i in range(21)]
LENGTHS = ((8, "< 8"), (15, "8-14"), (25, "15-24"), (sys.maxsize, ">= 25"))
EVIDENCE_WEIGHT = 0.5  # a word counts as evidence of one standard from this |weight| on
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
# What one split call read: the vote and lingua's scores.
SplitInputs = tuple[dict[str, float], dict[str, float] | None]


@dataclass(frozen=True)
class SplitCase:
    """One development sentence: its gold label, the full detector's label and, where the
    Indonesian/Malay split ran, what it read."""

    gold: str
    label: str
    sample: str
    without_names: str
    votes: dict[str, float] | None  # the vote before the split; None where it did not run
    lingua: dict[str, float] | None


def dev_parts(data_dir: Path = DATA_DIR) -> dict[str, list[tuple[str, str]]]:
    """(gold, sentence) per development part; a part whose source is missing is left out."""
    parts: dict[str, list[tuple[str, str]]] = {}
    eld = eld_big_test("dev")
    for label in ("zsm_Latn", "fil_Latn", "eng_Latn"):
        rows = [(gold, text) for gold, text in eld if gold == label]
        if rows:
            parts[f"eld_{label[:3]}"] = rows
    everything = nlpid_indonesian(sys.maxsize)
    if everything:
        parts[INDONESIAN] = everything[:-NLPID_TEST][:NLPID_DEV]
    for label in ("ind_Latn", "zsm_Latn"):
        path = data_dir / "udhr" / f"{UDHR_FILES[label]}.txt"
        if path.is_file():
            train, _ = split_train_test(udhr_lines(data_dir, UDHR_FILES[label]))
            parts[f"udhr_train_{label[:3]}"] = [(label, x) for x in train if len(x) >= MIN_CHARS]
    lines = AUTHORED_PATH.with_name("dev_authored.txt").read_text(encoding="utf-8").splitlines()
    parts["dev_authored"] = [
        (gold, text.strip())
        for gold, _, text in (line.partition("\t") for line in lines)
        if gold and not gold.startswith("#")
    ]
    return parts


@contextmanager
def _recording_split(seen: list[SplitInputs]) -> Iterator[None]:
    """`combined`'s split, with each call's vote and lingua scores appended to `seen`."""
    split = combined.split_ind_zsm

    def recorded(
        votes: dict[str, float], evidence: float, lingua_scores: dict[str, float] | None
    ) -> None:
        seen.append((dict(votes), lingua_scores))
        split(votes, evidence, lingua_scores)

    combined.split_ind_zsm = recorded
    try:
        yield
    finally:
        combined.split_ind_zsm = split


def record(rows: list[tuple[str, str]]) -> list[SplitCase]:
    """Each sentence through the full detector, one at a time, with the split's inputs. The
    detector runs unsettled (every detector its path asks for), which gives the same labels."""
    detector = combined.CombinedLangId(settle=False)
    cases: list[SplitCase] = []
    for gold, text in rows:
        seen: list[SplitInputs] = []
        with _recording_split(seen):
            label = detector.identify(text).lang
        votes, lingua = seen[-1] if seen else (None, None)
        sample = combined._sample(text)
        without = combined.without_names(sample)
        cases.append(SplitCase(gold, label, sample, without, votes, lingua))
    return cases


def evidence(case: SplitCase, model: MarkerModel) -> float:
    """The split's marker evidence for `case` under `model` (as `CombinedLangId._evidence`)."""
    return model.evidence(case.without_names) + malay.names_evidence(
        case.sample, case.without_names, model
    )


def relabel(case: SplitCase, case_evidence: float, balance: float = malay.BALANCE) -> str:
    """The label `case` gets with this evidence and balance (the logit is linear in both, so
    the balance enters as evidence)."""
    if case.votes is None:
        return case.label
    votes = dict(case.votes)
    malay.split_ind_zsm(votes, case_evidence + balance - malay.BALANCE, case.lingua)
    return max(votes, key=votes.__getitem__)


def choose_balance(curve: dict[float, tuple[float, float]]) -> float:
    """The balance with the higher lower accuracy of (Malay, Indonesian), ties to the higher
    mean, then to the balance nearer 0."""
    return max(curve, key=lambda b: (min(curve[b]), sum(curve[b]), -abs(b)))


@dataclass
class Report:
    right: dict[str, dict[float, int]]  # part -> balance -> sentences right
    sizes: dict[str, int]
    chosen: float


def score(
    cases: dict[str, list[SplitCase]], model: MarkerModel, balances: list[float] = BALANCES
) -> Report:
    right: dict[str, dict[float, int]] = {}
    for part, rows in cases.items():
        evidences = [evidence(case, model) if case.votes is not None else 0.0 for case in rows]
        right[part] = {
            b: sum(relabel(c, e, b) == c.gold for c, e in zip(rows, evidences, strict=True))
            for b in balances
        }
    sizes = {part: len(rows) for part, rows in cases.items()}
    curve = {
        b: (right[MALAY][b] / sizes[MALAY], right[INDONESIAN][b] / sizes[INDONESIAN])
        for b in balances
        if MALAY in right and INDONESIAN in right
    }
    return Report(right, sizes, choose_balance(curve) if curve else malay.BALANCE)


def error_kind(case: SplitCase, model: MarkerModel) -> str:
    """What the split had to go on for a sentence it got wrong."""
    sign = 1.0 if case.gold == malay.ZSM else -1.0
    weights = [model.weight(t) for t in _WORD.findall(case.without_names.lower())]
    own = any(w * sign >= EVIDENCE_WEIGHT for w in weights)
    other = any(w * sign <= -EVIDENCE_WEIGHT for w in weights)
    if own and other:
        return "words of both standards, the other's sum larger"
    if other:
        return "only the other standard's words"
    if own:
        return "only its own words, outvoted by the vote and lingua"
    return "no word evidence"


def evidence_line(detector: combined.CombinedLangId, case: SplitCase, model: MarkerModel) -> str:
    """Every detector's top label and the split's and the Filipino recheck's inputs for one
    sentence (each detector re-run on it: tagalog cases never reach the split)."""
    seen: dict[str, dict[str, float]] = {}
    detectors: list[Detector] = [
        detector.fasttext,
        detector.cld2,
        detector.profiles,
        detector.lingua,
    ]
    votes = combined._vote(case.without_names, detectors, seen)
    vote_odds = math.log((votes.get(malay.ZSM, 0) + 1e-3) / (votes.get(malay.IND, 0) + 1e-3))
    words = _FILIPINO_WORD.findall(case.without_names.lower())
    tops = {name: max(s, key=s.__getitem__) if s else "-" for name, s in seen.items()}
    return (
        f"  markers {model.evidence(case.without_names):+.2f} "
        f"names {malay.names_evidence(case.sample, case.without_names, model):+.2f} "
        f"lingua {malay.lingua_log_odds(seen['lingua']):+.2f} vote {vote_odds:+.2f} | "
        f"tagalog words {sum(w in TAGALOG_WORDS for w in words)} "
        f"english words {sum(w in ENGLISH_WORDS for w in words)} | tops {tops}"
    )


def length_bucket(text: str) -> str:
    words = len(text.split())
    return next(name for bound, name in LENGTHS if words < bound)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m silkroute.corpus.langid.dev_split")
    parser.add_argument("--markers", type=Path, default=MARKERS_PATH)
    parser.add_argument("--wordfreq", type=Path, default=WORDFREQ_PATH)
    parser.add_argument("--dictionary", type=Path, default=DICTIONARY_PATH)
    parser.add_argument(
        "--show-errors",
        action="store_true",
        help="print each Malay and Tagalog dev sentence still wrong, with its evidence",
    )
    args = parser.parse_args(argv)
    parts = dev_parts()
    if MALAY not in parts or INDONESIAN not in parts:
        print("eld or nlp-id is missing (pip install '.[eval]'; pip install --no-deps nlp-id)")
        return
    cases = {part: record(rows) for part, rows in parts.items()}
    model = load_model(args.markers, args.wordfreq, args.dictionary)
    report = score(cases, model)
    for balance in sorted({malay.BALANCE, report.chosen}):
        marks = " (shipped)" * (balance == malay.BALANCE) + " (chosen)" * (balance == report.chosen)
        print(f"balance {balance:+.2f}{marks}:")
        for part, size in report.sizes.items():
            right = report.right[part][balance]
            print(f"  {part:16} {right:5}/{size:<5} {right / size:.3f}")
    for part in (MALAY, INDONESIAN):
        rows = cases[part]
        totals = Counter(length_bucket(c.sample) for c in rows)
        wrong = [c for c in rows if relabel(c, evidence(c, model), report.chosen) != c.gold]
        errors = Counter(length_bucket(c.sample) for c in wrong)
        by_length = ", ".join(
            f"{name} {totals[name] - errors[name]}/{totals[name]}" for _, name in LENGTHS
        )
        print(f"{part} right by length: {by_length}")
        kinds = Counter(error_kind(c, model) for c in wrong if c.votes is not None)
        print(f"  {sum(kinds.values())} wrong within the split: {dict(kinds)}")
        print(f"  {sum(c.votes is None for c in wrong)} wrong outside it (another label led)")
    curve = ", ".join(
        f"{b:+.2f} {report.right[MALAY][b] / report.sizes[MALAY]:.3f}/"
        f"{report.right[INDONESIAN][b] / report.sizes[INDONESIAN]:.3f}"
        for b in BALANCES
    )
    print(f"balance curve (Malay/Indonesian): {curve}")
    if args.show_errors:
        detector = combined.CombinedLangId(settle=False)
        for part in (MALAY, "eld_fil"):
            for case in cases.get(part, []):
                label = relabel(case, evidence(case, model), report.chosen)
                if label != case.gold:
                    print(f"{case.gold} -> {label}: {case.sample}")
                    print(evidence_line(detector, case, model))


if __name__ == "__main__":
    main()
