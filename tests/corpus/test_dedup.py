"""Deduplication: every planted copy caught in every script, nothing else removed, no chains."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from silkroute.corpus.dedup.fingerprints import MinHasher, exact_hash
from silkroute.corpus.dedup.shingles import canonical, jaccard, shingle_hashes, units
from silkroute.corpus.document import Document
from silkroute.corpus.pipeline.base import DedupStage
from silkroute.corpus.stages.dedup import ExactDedup, MinHashDedup, MinHashParams

from .conftest import paragraphs

# UDHR excerpts shipped with the tests (data/udhr/README.md): these run without ../shared.
EXCERPTS = Path(__file__).resolve().parent / "data"

# One language per script the issue names: Latin, Thai, Lao, Khmer, Myanmar, Han.
SCRIPTS = {
    "vie": "Latn",
    "ind": "Latn",
    "tha": "Thai",
    "lao": "Laoo",
    "khm": "Khmr",
    "mya": "Mymr",
    "cmn_hans": "Hani",
}


def near_copy(text: str, rng: random.Random, changes: int = 2) -> str:
    """A few letters changed in place: what a re-crawled page with a typo fix looks like."""
    chars = list(text)
    letters = [i for i, ch in enumerate(chars) if ch.isalpha()]
    for _ in range(changes):
        i = rng.choice(letters[len(letters) // 4 : -len(letters) // 4])
        chars[i] = chars[rng.choice(letters)]
    return "".join(chars)


def decide(stage: DedupStage, docs: list[Document], shards: int = 2) -> np.ndarray:
    """Fingerprints per shard as the workers compute them, then the driver's decision."""
    cut = [docs[i::shards] for i in range(shards)]
    order = [d for part in cut for d in part]
    rep = stage.decide([stage.fingerprints(part) for part in cut]).rep
    index = {id(d): i for i, d in enumerate(order)}
    # back to the caller's order: rep of document i, as an index into `docs`
    back = {i: docs.index(d) for i, d in enumerate(order)}
    return np.array([back[int(rep[index[id(d)]])] for d in docs])


def planted_corpus() -> tuple[list[Document], dict[int, int]]:
    """Six paragraphs per language, an exact copy (case and punctuation changed) of the first
    and a near copy (two letters changed) of the second: truth maps copy -> original."""
    rng = random.Random(3)
    docs: list[Document] = []
    truth: dict[int, int] = {}
    for code, script in SCRIPTS.items():
        paras = paragraphs(EXCERPTS, code, per_doc=6)[:6]
        base = len(docs)
        docs += [
            Document(f"{code}-{i}", t, {"lang": code, "script": script})
            for i, t in enumerate(paras)
        ]
        docs.append(
            Document(f"{code}-exact", paras[0].upper() + " !!", {"lang": code, "script": script})
        )
        truth[len(docs) - 1] = base
        docs.append(
            Document(f"{code}-near", near_copy(paras[1], rng), {"lang": code, "script": script})
        )
        truth[len(docs) - 1] = base + 1
    return docs, truth


def test_minhash_catches_every_planted_copy_and_nothing_else() -> None:
    docs, truth = planted_corpus()
    rep = decide(MinHashDedup(MinHashParams()), docs)
    removed = {i: int(rep[i]) for i in range(len(docs)) if rep[i] != i}
    assert removed == truth


def test_exact_dedup_catches_exact_copies_only() -> None:
    docs, truth = planted_corpus()
    rep = decide(ExactDedup(None), docs)
    removed = {i: int(rep[i]) for i in range(len(docs)) if rep[i] != i}
    assert removed == {
        copy: orig for copy, orig in truth.items() if docs[copy].id.endswith("exact")
    }


@pytest.mark.parametrize("code", list(SCRIPTS))
def test_a_corpus_without_copies_loses_nothing(code: str) -> None:
    docs = [
        Document(str(i), t, {"lang": code}) for i, t in enumerate(paragraphs(EXCERPTS, code, 3))
    ]
    for stage in (MinHashDedup(MinHashParams()), ExactDedup(None)):
        rep = decide(stage, docs)
        assert (rep == np.arange(len(docs))).all(), f"{stage.name} removed distinct paragraphs"


def test_a_chain_of_similar_documents_is_not_collapsed_into_one_cluster() -> None:
    """Each step shares ~92% of its shingles with the next, the ends ~56%: union-find over
    candidate pairs would merge all eight; each removal must be backed by its own similarity."""
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(5000)]
    tokens = [rng.choice(vocabulary) for _ in range(260)]
    docs = [
        Document(str(k), " ".join(tokens[8 * k : 8 * k + 200]), {"lang": "x"}) for k in range(8)
    ]
    threshold = 0.75
    rep = decide(MinHashDedup(MinHashParams(threshold=threshold)), docs, shards=3)
    assert len(set(rep.tolist())) >= 2, "the chain is not one cluster"
    shingles = [shingle_hashes(d.text, "word", 5) for d in docs]
    for i, kept in enumerate(rep):
        assert rep[kept] == kept, "a document points to a kept document, never to a removed one"
        if kept != i:
            # estimated >= threshold; the exact value lies within MinHash's error of it
            assert jaccard(shingles[i], shingles[kept]) > threshold - 0.06


def test_languages_are_deduplicated_separately() -> None:
    text = "the same words in two files labelled as two different languages " * 3
    docs = [Document("a", text, {"lang": "ind_Latn"}), Document("b", text, {"lang": "zsm_Latn"})]
    for stage in (MinHashDedup(MinHashParams()), ExactDedup(None)):
        assert list(decide(stage, docs)) == [0, 1]


def test_unspaced_scripts_shingle_on_word_like_units_and_keep_combining_marks() -> None:
    thai = "ภาษาไทยเป็นภาษาที่มีวรรณยุกต์"
    assert len(units(thai)) > 3, "ICU splits unspaced Thai into words"
    # Only a tone mark differs (U+0E48 vs U+0E49): the texts must not look identical.
    assert canonical("ไก่") != canonical("ไก้")
    assert exact_hash("ไก่ ไข่") != exact_hash("ไก้ ไข่")
    assert canonical("ကြောင်") == "ကြောင်", "Burmese medials and asat stay"


def test_signatures_are_reproducible_across_processes_and_seeded() -> None:
    a = MinHasher(32, "word", 5, seed=7).signature("ສະບາຍດີ ທຸກຄົນ ມື້ນີ້ ອາກາດ ດີ")
    b = MinHasher(32, "word", 5, seed=7).signature("ສະບາຍດີ ທຸກຄົນ ມື້ນີ້ ອາກາດ ດີ")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, MinHasher(32, "word", 5, seed=8).signature("ສະບາຍດີ ທຸກຄົນ"))


def test_exact_hash_ignores_case_spacing_and_punctuation() -> None:
    assert exact_hash("Hello,   World!") == exact_hash("hello world")
    assert exact_hash("สวัสดี ครับ") != exact_hash("สวัสดี ค่ะ")
