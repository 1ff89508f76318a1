"""When can a detector that has not run yet no longer change the vote's label?

The vote (`combined._vote`) gives each label the weighted mean probability of the detectors that
know it. Before a pending detector runs, every label's final vote is bounded: the pending
detector adds between 0 and its weight times 1 to the labels it knows, and its weight counts in
their denominators either way. When the leader's lowest possible vote is above every other
label's highest, running the detector cannot change the label, so it need not run.

One rule is ours, not the vote's: a label that no detector already consulted knows (for
fastText: Alemannic, Asturian, Limburgish, ...: 51 labels CLD2 and the profiles lack) is not a
rival here, or nothing could ever be settled; such a label could otherwise win on fastText's
word alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

# Votes are sums in another order than the full vote's: a margin far above rounding error.
EPS = 1e-9


class Voter(Protocol):
    """A detector as the vote sees it: it names only labels in `known_labels`. Hashable (by
    identity, as a plain class is): the bounds keep what they work out per line-up."""

    name: str

    @property
    def known_labels(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class VoteBounds:
    low: dict[str, float]  # per label a consulted detector named: its lowest possible vote
    high: dict[str, float]  # ... and its highest
    unseen_high: float  # the highest vote a label no consulted detector named can reach
    # per label, the consulted detectors' weighted sum: `always` first, then as they named them
    weighted: dict[str, float]

    def rival(self, excluded: frozenset[str] | set[str]) -> float:
        """The highest vote any label outside `excluded` can reach."""
        highest = self.unseen_high
        for label, high in self.high.items():
            if high > highest and label not in excluded:
                highest = high
        return highest

    def leader(self) -> str | None:
        """The label that leads whatever the pending detectors say, if one does."""
        best = max(self.low, key=self.low.__getitem__, default=None)
        if best is None or self.low[best] <= self.rival({best}) + EPS:
            return None
        return best


class Bounder:
    """Vote bounds for one line-up of detectors (`consulted` have run, `pending` have not)."""

    def __init__(self, weights: Mapping[str, float], fallback: float) -> None:
        self.weights = weights
        self.fallback = fallback  # the vote's denominator for a label no detector knows
        self._lineups: dict[tuple[tuple[Voter, ...], tuple[Voter, ...]], _Lineup] = {}

    def bounds(
        self,
        seen: Mapping[str, Mapping[str, float]],
        consulted: Sequence[Voter],
        pending: Sequence[Voter],
        always: Sequence[str] = (),
    ) -> VoteBounds:
        """`seen`: the consulted detectors' scores by name; `always`: labels to bound even where
        no consulted detector named them."""
        key = (tuple(consulted), tuple(pending))  # the detectors themselves: no names built
        lineup = self._lineups.get(key)
        if lineup is None:
            lineup = self._lineups[key] = _Lineup(self.weights, self.fallback, consulted, pending)
        weighted: dict[str, float] = dict.fromkeys(always, 0.0)
        for detector in consulted:
            weight = self.weights[detector.name]
            for label, prob in seen[detector.name].items():
                weighted[label] = weighted.get(label, 0.0) + weight * prob
        low: dict[str, float] = {}
        high: dict[str, float] = {}
        known = lineup.known
        for label, total in weighted.items():
            able, extra = known.get(label) or lineup.able_extra(label)
            low[label] = total / able
            high[label] = (total + extra) / able
        unseen = 0.0
        for reach, labels in lineup.unseen_groups:  # the first with a label not named
            if len(labels) > len(weighted) or not weighted.keys() >= labels:
                unseen = reach
                break
        return VoteBounds(low, high, unseen, weighted)


class _Lineup:
    def __init__(
        self,
        weights: Mapping[str, float],
        fallback: float,
        consulted: Sequence[Voter],
        pending: Sequence[Voter],
    ) -> None:
        self.weights, self.fallback = weights, fallback
        self.everyone = [*consulted, *pending]
        self.pending = list(pending)
        self.known: dict[str, tuple[float, float]] = {}  # label -> (able, extra), as met
        known_before = frozenset().union(*(d.known_labels for d in consulted))
        candidates = frozenset().union(*(d.known_labels for d in pending)) & known_before
        # Highest reachable vote of each label only a pending detector can still name, best
        # first (ties by label, so the order is deterministic).
        order = []
        for label in candidates:
            able, extra = self.able_extra(label)
            order.append((extra / able, label))
        self.unseen_order = sorted(order, key=lambda item: (-item[0], item[1]))
        # The same, one group of labels per reachable vote, highest first.
        groups: dict[float, set[str]] = {}
        for reach, label in self.unseen_order:
            groups.setdefault(reach, set()).add(label)
        self.unseen_groups = [(reach, frozenset(labels)) for reach, labels in groups.items()]

    def able_extra(self, label: str) -> tuple[float, float]:
        cached = self.known.get(label)
        if cached is None:
            able = sum(self.weights[d.name] for d in self.everyone if label in d.known_labels)
            extra = sum(self.weights[d.name] for d in self.pending if label in d.known_labels)
            cached = self.known[label] = (able or self.fallback, extra)
        return cached
