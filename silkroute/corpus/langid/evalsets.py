"""Labelled language-ID evaluation sets.

- `udhr_held_out`: the second half of each UDHR text in shared/data. IN-DOMAIN: the trigram
  profiles are trained on the first half of the same documents, so it flatters our detector.
- `authored`: `eval_authored.txt`, everyday sentences written by hand for this project (20 per
  language); not from UDHR and not used to build any profile or marker weight.
- `spacy_examples`: the example sentences spaCy's wheel ships per language
  (`spacy.lang.<code>.examples`, written by spaCy's contributors: news-like, with names), where
  spaCy is installed (the `bench` extra). Out of domain and not ours, but tiny (7-8 a language):
  a smoke test, not a benchmark. Never used for tuning.
- `eld_big_test`: the "big test" that the `eld` language detector ships inside its wheel
  (`eld/tests/data/big-test.txt`, Apache-2.0): 1,000 real sentences per language, news and
  encyclopaedia text with names (Malay, Tagalog, Vietnamese, Thai, English, Chinese here; its
  Lao lines are single words).
  Out of domain, not ours. Its first 500 lines per language ("dev") chose one setting
  (`combined.ENGLISH_MARGIN`); the rest ("test") are reported; never used for training.
- `nlpid_indonesian`: the POS-tagged Indonesian news sentences nlp-id ships
  (`nlp_id/data/dataset_postag.txt`, MIT; one token per line), joined back into sentences.
  nlp-id pins exact numpy/scipy/scikit-learn versions, so it is not an extra: install it with
  `pip install --no-deps nlp-id` to read the file. Out of domain, not ours; never used for tuning.
- `chatterbot_indonesian`: the Indonesian dialogue lines chatterbot-corpus ships
  (`chatterbot_corpus/data/indonesian/*.yml`, BSD-3): conversational, ~170 lines of >= 20
  characters. Out of domain, not ours; never used for tuning.
- `django_translations`: the Malay and Indonesian translations of Django's messages
  (`django/**/locale/{ms,id}/LC_MESSAGES/*.po` inside the Django wheel, BSD-3; written by
  Django's volunteer translators): ~300 interface sentences per language ("Adakah anda pasti
  anda ingin membuang ...?", "Pastikan tabel yang sesuai pada basis data telah dibuat ...").
  The one source here with Malay text besides eld's, and with both standards. Out of domain,
  not ours; never used for training or tuning.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from silkroute.corpus.langid.udhr import UDHR_FILES, split_train_test, udhr_lines

AUTHORED_PATH = Path(__file__).with_name("eval_authored.txt")
MIN_CHARS = 20


def authored() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for raw in AUTHORED_PATH.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            label, text = raw.split("\t", 1)
            rows.append((label, text.strip()))
    return rows


SPACY_LABELS = {"id": "ind_Latn", "ms": "zsm_Latn", "vi": "vie_Latn", "en": "eng_Latn"}


def spacy_examples() -> list[tuple[str, str]]:
    """(label, sentence) from spaCy's shipped examples; empty where spaCy is not installed."""
    import importlib

    rows: list[tuple[str, str]] = []
    for code, label in SPACY_LABELS.items():
        try:
            module = importlib.import_module(f"spacy.lang.{code}.examples")
        except ImportError:
            return []
        rows.extend((label, str(text)) for text in module.sentences if len(text) >= MIN_CHARS)
    return rows


def udhr_held_out(data_dir: Path, labels: list[str] | None = None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for label in labels or list(UDHR_FILES):
        _, test = split_train_test(udhr_lines(data_dir, UDHR_FILES[label]))
        rows.extend((label, line) for line in test if len(line) >= MIN_CHARS)
    return rows


# eld's language codes -> ours (the region's languages eld's big test covers; it has no Indonesian,
# Khmer or Burmese).
ELD_LABELS = {
    "ms": "zsm_Latn",
    "tl": "fil_Latn",
    "vi": "vie_Latn",
    "th": "tha_Thai",
    "en": "eng_Latn",
    "zh": "cmn_Hani",
}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


ELD_DEV_LINES = 500


def eld_big_test(part: str = "all") -> list[tuple[str, str]]:
    """(label, sentence) from eld's shipped big test; empty where eld is not installed.
    `part`: "dev" = the first ELD_DEV_LINES lines of each language (the file's order; used to
    choose `combined.ENGLISH_MARGIN`), "test" = the rest (reported), "all" = both."""
    folder = _package_dir("eld")
    if folder is None or not (folder / "tests" / "data" / "big-test.txt").is_file():
        return []
    rows: list[tuple[str, str]] = []
    taken: dict[str, int] = {}
    text = (folder / "tests" / "data" / "big-test.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        code, _, sentence = line.partition("\t")
        label = ELD_LABELS.get(code)
        sentence = sentence.strip()
        if label is None or len(sentence) < MIN_CHARS:
            continue
        index = taken[label] = taken.get(label, 0) + 1
        if part == "all" or (part == "dev") == (index <= ELD_DEV_LINES):
            rows.append((label, sentence))
    return rows


def chatterbot_indonesian() -> list[tuple[str, str]]:
    """("ind_Latn", line) for chatterbot-corpus's Indonesian lines of >= MIN_CHARS characters,
    each once; empty where chatterbot-corpus is not installed."""
    import yaml

    folder = _package_dir("chatterbot_corpus")
    if folder is None:
        return []
    lines: dict[str, None] = {}
    for path in sorted((folder / "data" / "indonesian").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in data.get("conversations", []):
            for line in conversation:
                if isinstance(line, str) and len(line.strip()) >= MIN_CHARS:
                    lines[line.strip()] = None
    return [("ind_Latn", line) for line in lines]


_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]])")
_SPACE_AFTER = re.compile(r"([(\[]) ")
_ENCLITIC = re.compile(r" (nya|lah|kah)\b")


def nlpid_indonesian(limit: int = 2000) -> list[tuple[str, str]]:
    """("ind_Latn", sentence) for the last `limit` sentences of >= MIN_CHARS characters in
    nlp-id's tagged news corpus, tokens joined back (no space before punctuation or the
    enclitics -nya/-lah/-kah, split off by its tokenizer); empty where nlp-id is not installed."""
    folder = _package_dir("nlp_id")
    path = None if folder is None else folder / "data" / "dataset_postag.txt"
    if path is None or not path.is_file():
        return []
    sentences: list[str] = []
    tokens: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            tokens.append(line.split("\t", 1)[0])
            continue
        if tokens:
            text = _ENCLITIC.sub(
                r"\1", _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", " ".join(tokens)))
            )
            if len(text) >= MIN_CHARS:
                sentences.append(text)
            tokens = []
    return [("ind_Latn", text) for text in sentences[-limit:]]


DJANGO_LABELS = {"ms": "zsm_Latn", "id": "ind_Latn"}
# Placeholders and markup are the program's, not the language's: "%(name)s", "%s", "{count}",
# "<a href=...>", escaped newlines and quotes.
_PO_NOISE = re.compile(r"%\([^)]*\)[a-z]|%[a-z]|\{[^}]*\}|<[^>]+>|\\[nt\"]")
_PO_STRING = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$')


def po_translations(text: str) -> list[str]:
    """The translated strings of a gettext .po file; fuzzy (unreviewed), obsolete and header
    entries left out. Entries are the file's blank-line separated blocks."""
    found: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        fuzzy = False
        for raw in block.splitlines():
            line = raw.strip()
            match = _PO_STRING.match(line)
            if match:
                key = match.group(1)
                fields[key] = fields.get(key, "") + match.group(2)
            elif line.startswith('"') and line.endswith('"') and key:
                fields[key] += line[1:-1]
            elif line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
        if fields.get("msgid") and not fuzzy:
            found.extend(v for k, v in fields.items() if k.startswith("msgstr") and v)
    return found


def django_translations() -> list[tuple[str, str]]:
    """(label, sentence) for Django's Malay and Indonesian message translations of >= MIN_CHARS
    characters once placeholders and markup are removed (language names, "Bahasa Arab", left
    out), each once; empty where Django is not installed."""
    folder = _package_dir("django")
    if folder is None:
        return []
    rows: list[tuple[str, str]] = []
    for code, label in DJANGO_LABELS.items():
        seen: dict[str, None] = {}
        for path in sorted(folder.glob(f"**/locale/{code}/LC_MESSAGES/*.po")):
            for message in po_translations(path.read_text(encoding="utf-8")):
                sentence = " ".join(_PO_NOISE.sub(" ", message).split())
                if len(sentence) >= MIN_CHARS and not sentence.startswith("Bahasa "):
                    seen[sentence] = None
        rows.extend((label, sentence) for sentence in seen)
    return rows
