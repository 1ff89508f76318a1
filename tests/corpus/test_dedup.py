from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from silkroute.corpus.dedup.clusters import lsh_clusters
from silkroute.corpus.dedup.fingerprints import MinHasher, exact_hash

from .conftest import paragraphs

CODES = ["tha", "lao", "khm", "mya", "cmn_hans", "vie", "ind", "eng"]


def near_copy(text: str) -> str:
    # Same document with a changed tail: what a re-crawled page with a new footer looks like.
    return text[: int(len(text) * 0.93)] + " 2024"


@pytest.mark.parametrize("code", CODES)
def test_near_duplicates_are_clustered_in_every_script(udhr_dir: Path, code: str) -> None:
    docs = paragraphs(udhr_dir, code, per_doc=3)[:6]
    texts = [*docs, near_copy(docs[0])]
    hasher = MinHasher(num_perm=112, ngram=5, seed=0)
    sigs = np.stack([hasher.signature(t) for t in texts])
    keys = [(0, i) for i in range(len(texts))]
    clusters = lsh_clusters(keys, ["x"] * len(texts), sigs, bands=14, rows=8)
    assert sorted(clusters[(0, 0)]) == [(0, 0), (0, len(texts) - 1)], code
    assert sum(len(m) > 1 for m in clusters.values()) == 1, "distinct paragraphs stay apart"


def test_signatures_do_not_vanish_for_unspaced_text() -> None:
    hasher = MinHasher(num_perm=16, ngram=5, seed=0)
    assert not np.array_equal(
        hasher.signature("ภาษาไทยง่ายนิดเดียว"), hasher.signature("中文很难学习的")
    )


def test_seed_makes_signatures_reproducible() -> None:
    a = MinHasher(num_perm=32, ngram=5, seed=7).signature("ສະບາຍດີ ທຸກຄົນ")
    b = MinHasher(num_perm=32, ngram=5, seed=7).signature("ສະບາຍດີ ທຸກຄົນ")
    assert np.array_equal(a, b)


def test_exact_hash_ignores_case_spacing_and_punctuation() -> None:
    assert exact_hash("Hello,   World!") == exact_hash("hello world")
    assert exact_hash("สวัสดี ครับ") != exact_hash("สวัสดี ค่ะ")
