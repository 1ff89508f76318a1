"""A character-trigram naive Bayes detector for regional Latin-script languages.

No shipped detector knows Tetum or Waray well and all of them blur Indonesian and Malay, so we
ship small trigram profiles (package data, built by `train_profiles`) as one more voter.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import cached_property
from pathlib import Path

import numpy as np

PROFILE_PATH = Path(__file__).with_name("profiles.json")


def trigrams(text: str) -> list[str]:
    padded = " " + " ".join(text.lower().split()) + " "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def build_profiles(texts: dict[str, str], top_n: int = 1500) -> dict[str, object]:
    """Log-probabilities of each language's most frequent trigrams, add-one smoothed."""
    counts = {label: Counter(trigrams(text)) for label, text in texts.items()}
    vocab = sorted({g for c in counts.values() for g, _ in c.most_common(top_n)})
    labels = sorted(counts)
    table: list[list[float]] = []
    floors: list[float] = []
    for label in labels:
        total = sum(counts[label].values()) + len(vocab) + 1
        table.append([round(math.log((counts[label][g] + 1) / total), 2) for g in vocab])
        floors.append(round(math.log(0.5 / total), 2))
    return {"labels": labels, "vocab": vocab, "logp": table, "floor": floors}


class ProfileDetector:
    name = "profiles"

    def __init__(self, path: Path = PROFILE_PATH, temperature: float = 0.15) -> None:
        self.path = path
        self.temperature = temperature

    @cached_property
    def _model(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Labels, the vocabulary's trigram keys (sorted), their rows, and the matrix."""
        data = json.loads(self.path.read_text(encoding="utf-8"))
        labels: list[str] = data["labels"]
        keys = np.array([_key(g) for g in data["vocab"]], dtype=np.int64)
        order = np.argsort(keys)
        matrix = np.array(data["logp"], dtype=np.float64).T  # (vocab, labels)
        floor = np.array(data["floor"], dtype=np.float64)[None, :]
        return labels, keys[order], order, np.vstack([matrix, floor])

    @cached_property
    def known_labels(self) -> frozenset[str]:
        return frozenset(self._model[0])

    @cached_property
    def available(self) -> bool:
        return self.path.exists()  # asked per document: one stat, not thousands

    def scores(self, text: str) -> dict[str, float]:
        labels, keys, order, matrix = self._model
        grams = _keys(text[:2000])
        if grams.size == 0:
            return {}
        unknown = matrix.shape[0] - 1
        at = np.minimum(np.searchsorted(keys, grams), keys.size - 1)
        rows = np.where(keys[at] == grams, order[at], unknown)
        loglik = matrix[rows].sum(axis=0) / rows.size
        # Per-trigram average log-likelihood, sharpened: a softmax over languages.
        z = (loglik - loglik.max()) / self.temperature
        probs = np.exp(z) / np.exp(z).sum()
        return {label: float(p) for label, p in zip(labels, probs, strict=True) if p > 1e-3}


def _key(gram: str) -> int:
    """One integer per trigram: three 21-bit code points."""
    a, b, c = (ord(ch) for ch in gram)
    return (a << 42) | (b << 21) | c


def _keys(text: str) -> np.ndarray:
    """Every trigram of `trigrams(text)` as `_key` integers, vectorised."""
    padded = " " + " ".join(text.lower().split()) + " "
    cps = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    if cps.size < 3:
        return np.zeros(0, dtype=np.int64)
    return (cps[:-2] << 42) | (cps[1:-1] << 21) | cps[2:]
