"""Gopher/FineWeb-2 style quality rules with thresholds read from one YAML file per language."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from silkroute.corpus.errors import CorpusError
from silkroute.corpus.segment import words as split_words
from silkroute.model.errors import SpecError, file_spec_error, read_yaml

THRESHOLD_DIR = Path(__file__).with_name("thresholds")


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_words: int | None = None
    max_words: int | None = None
    min_mean_word_chars: float | None = None
    max_mean_word_chars: float | None = None
    max_symbol_word_ratio: float | None = None
    max_bullet_lines_ratio: float | None = None
    max_ellipsis_lines_ratio: float | None = None
    min_alpha_words_ratio: float | None = None
    max_duplicate_lines_ratio: float | None = None
    max_top_char_trigram_ratio: float | None = None
    min_line_end_punct_ratio: float | None = None
    line_end_punct: str = ""
    min_stop_words: int = 0
    stop_words: list[str] = []


def thresholds_for(lang: str, directory: Path | None = None) -> Thresholds:
    """`default.yaml` overridden by `<lang>.yaml` where the folder has one. A bad file is a
    CorpusError of one line per problem naming the file, the line and the rule
    (`tha_Thai.yaml:3: min_words: ...`), never a pydantic traceback from a worker."""
    return _thresholds(lang, THRESHOLD_DIR if directory is None else directory)


@lru_cache(maxsize=64)
def _thresholds(lang: str, folder: Path) -> Thresholds:
    default_path = folder / "default.yaml"
    default = _read_thresholds(default_path)
    _validate(default, default_path)  # its problems are its own, not the language file's
    own = folder / f"{lang}.yaml"
    if not own.exists():
        return _validate(default, default_path)
    # The default is good, so whatever the merge refuses is a key the language file gives.
    return _validate({**default, **_read_thresholds(own)}, own)


def check_thresholds(directory: Path | None = None) -> None:
    """Read every thresholds file of the folder, so a bad one stops a run before it starts."""
    folder = THRESHOLD_DIR if directory is None else directory
    thresholds_for("", folder)  # `default.yaml` alone
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "default.yaml":
            thresholds_for(path.stem, folder)


def _read_thresholds(path: Path) -> dict[str, Any]:
    try:
        raw = read_yaml(path, "quality thresholds")
    except SpecError as exc:
        raise CorpusError(str(exc)) from None
    if raw is None:  # an empty language file overrides nothing
        return {}
    if not isinstance(raw, dict):
        raise CorpusError(
            f"{path}:1: (root): a thresholds file is a mapping of rule names to limits "
            f"(got a {type(raw).__name__})"
        )
    return raw


def _validate(raw: dict[str, Any], path: Path) -> Thresholds:
    try:
        return Thresholds.model_validate(raw)
    except ValidationError as exc:
        raise CorpusError(str(file_spec_error(exc, path))) from None


def _too_low(value: float, limit: float | None) -> bool:
    return limit is not None and value < limit


def _too_high(value: float, limit: float | None) -> bool:
    return limit is not None and value > limit


def quality_failure(text: str, t: Thresholds, script: str | None = None) -> str | None:
    """The first rule the text breaks (its name is the removal reason), or None to keep it."""
    words = split_words(text, script)
    n = len(words)
    if _too_low(n, t.min_words):
        return "too_few_words"
    if _too_high(n, t.max_words):
        return "too_many_words"
    mean_chars = sum(len(w) for w in words) / n if n else 0.0
    if _too_low(mean_chars, t.min_mean_word_chars) or _too_high(mean_chars, t.max_mean_word_chars):
        return "mean_word_length"
    symbols = text.count("#") + text.count("...") + text.count("…")
    if n and _too_high(symbols / n, t.max_symbol_word_ratio):
        return "symbol_ratio"
    if n and _too_low(sum(any(c.isalpha() for c in w) for w in words) / n, t.min_alpha_words_ratio):
        return "alpha_words_ratio"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        bullets = sum(line[0] in "•-*·▪" for line in lines) / len(lines)
        if _too_high(bullets, t.max_bullet_lines_ratio):
            return "bullet_lines"
        ellipsis = sum(line.endswith(("...", "…")) for line in lines) / len(lines)
        if _too_high(ellipsis, t.max_ellipsis_lines_ratio):
            return "ellipsis_lines"
        duplicate = 1 - len(set(lines)) / len(lines)
        if _too_high(duplicate, t.max_duplicate_lines_ratio):
            return "duplicate_lines"
        if t.line_end_punct and t.min_line_end_punct_ratio is not None:
            ended = sum(line[-1] in t.line_end_punct for line in lines) / len(lines)
            if ended < t.min_line_end_punct_ratio:
                return "line_end_punctuation"
    if _too_high(_top_trigram_ratio(words), t.max_top_char_trigram_ratio):
        return "repeated_ngrams"
    if t.min_stop_words and sum(w.lower() in t.stop_words for w in words) < t.min_stop_words:
        return "too_few_stop_words"
    return None


def _top_trigram_ratio(words: list[str]) -> float:
    """Gopher: share of characters covered by the most frequent word trigram."""
    if len(words) < 3:
        return 0.0
    grams = Counter(tuple(words[i : i + 3]) for i in range(len(words) - 2))
    gram, count = grams.most_common(1)[0]
    if count < 2:
        return 0.0
    return count * sum(len(w) for w in gram) / max(1, sum(len(w) for w in words))
