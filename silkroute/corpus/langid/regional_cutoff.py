"""Pick `REGIONAL_SURE`, the profile score above which a regional language the vote did not
choose is reported as uncertain, on data held out from every evaluation.

The held-out half of each UDHR text is split by line: odd lines (1, 3, 5, ...) choose the
cut-off, even lines (0, 2, 4, ...) report it; the authored development sentences
(`dev_authored.txt`) count as negatives when choosing. The rule: the cut-off that tells the most
regional lines right or uncertain while flagging at most 1% of the other languages' lines; among
ties, the highest (fewest flags). Run: python -m silkroute.corpus.langid.regional_cutoff
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from silkroute.corpus.langid import combined
from silkroute.corpus.langid.evalsets import AUTHORED_PATH, MIN_CHARS
from silkroute.corpus.langid.udhr import (
    UDHR_FILES,
    UDHR_OTHER_FILES,
    split_train_test,
    udhr_lines,
)

CANDIDATES = [round(0.05 * k, 2) for k in range(4, 20)]  # 0.20 .. 0.95
MAX_FALSE_FLAGS = 0.01


@dataclass(frozen=True)
class Line:
    label: str
    regional: bool  # one of REGIONAL (a positive) or another language (a negative)
    text: str


def split_lines(data_dir: Path, part: int) -> list[Line]:
    """Held-out UDHR lines of every language; part 1 = odd lines (choose), 0 = even (report)."""
    lines: list[Line] = []
    for files, regional in ((UDHR_OTHER_FILES, True), (UDHR_FILES, False)):
        for label, code in files.items():
            _, held_out = split_train_test(udhr_lines(data_dir, code))
            kept = [x for x in held_out if len(x) >= MIN_CHARS]
            lines += [Line(label, regional, x) for x in kept[part::2]]
    return lines


def dev_lines() -> list[Line]:
    rows = AUTHORED_PATH.with_name("dev_authored.txt").read_text(encoding="utf-8").splitlines()
    return [
        Line(label, False, text.strip())
        for label, _, text in (r.partition("\t") for r in rows if r.strip() and r[0] != "#")
    ]


def outcomes(lines: list[Line]) -> list[tuple[Line, str, str | None, float]]:
    """(line, label, the regional candidate the vote passed over, its profile score)."""
    detector = combined.CombinedLangId()
    saved = combined.REGIONAL_SURE
    combined.REGIONAL_SURE = 0.0  # every candidate is reported; its score decides below
    try:
        rows = []
        for line in lines:
            result = detector.identify(line.text)
            score = 0.0
            if result.uncertain is not None:
                sample = combined.without_names(combined._sample(line.text))
                score = detector.profiles.scores(sample).get(result.uncertain, 0.0)
            rows.append((line, result.lang, result.uncertain, score))
        return rows
    finally:
        combined.REGIONAL_SURE = saved


def rates(rows: list[tuple[Line, str, str | None, float]], cut: float) -> tuple[float, float]:
    """(share of regional lines right or flagged, share of other lines flagged) at `cut`."""
    positives = [r for r in rows if r[0].regional]
    negatives = [r for r in rows if not r[0].regional]
    told = sum(
        lang == line.label or (cand == line.label and score >= cut)
        for line, lang, cand, score in positives
    )
    flagged = sum(cand is not None and score >= cut for _, _, cand, score in negatives)
    return told / max(1, len(positives)), flagged / max(1, len(negatives))


def choose(rows: list[tuple[Line, str, str | None, float]]) -> float:
    allowed = [c for c in CANDIDATES if rates(rows, c)[1] <= MAX_FALSE_FLAGS]
    best = max(rates(rows, c)[0] for c in allowed)
    return max(c for c in allowed if rates(rows, c)[0] == best)


def main(data_dir: Path) -> None:
    choosing = outcomes(split_lines(data_dir, 1) + dev_lines())
    reporting = outcomes(split_lines(data_dir, 0))
    cut = choose(choosing)
    for name, rows in (("choose (odd lines + dev)", choosing), ("report (even lines)", reporting)):
        told, flagged = rates(rows, cut)
        print(
            f"{name}: cut-off {cut}: regional right or uncertain {told:.3f}, "
            f"other languages flagged {flagged:.3f}"
        )
    print("sweep (choose):", ", ".join(f"{c}: {rates(choosing, c)}" for c in CANDIDATES))


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
