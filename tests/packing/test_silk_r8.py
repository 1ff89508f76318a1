"""silk-r8, the eighth round's candidate of issue 15: silk with the sole homes of a shape
(the only kind of node an idle one of which can host it) used last."""

from __future__ import annotations

from collections import Counter

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, TargetWorkload
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_silk_r7 import SilkR7Scorer
from silkroute.scheduler.policies.node_silk_r8 import SilkR8bScorer, SilkR8Scorer, sole_homes
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.sim.packing.policies import CANDIDATES, PACKING_POLICIES
from tests.packing.helpers import chosen_node

GIB = 1024
ONE = Shape(4_000, 1000, 1, None)  # one GPU, 4 cores
FOUR = Shape(60_000, 1000, 4, None)  # four GPUs, 60 cores
GIANT = Shape(120_000, 1000, 8, None)  # eight GPUs, 120 cores: only the big kind


def nodes() -> list[NodeInfo]:
    """g3: 8 GPUs, 128 cores, 768 GiB (twice); g2: 8 GPUs, 96 cores, 384 GiB; t4: 2 GPUs."""
    return [
        NodeInfo("g3a", "s", "G3", 8, 128_000, 768 * GIB),
        NodeInfo("g2", "s", "G2", 8, 96_000, 384 * GIB),
        NodeInfo("g3b", "s", "G3", 8, 128_000, 768 * GIB),
        NodeInfo("t4", "s", "T4", 2, 32_000, 64 * GIB),
    ]


def target(*shapes: Shape) -> TargetWorkload:
    return TargetWorkload.from_counts(Counter(dict.fromkeys(shapes, 10)))


def test_a_kind_is_a_sole_home_when_some_shape_fits_no_other_kind() -> None:
    state = ClusterState(nodes())
    # GIANT fits only the two g3 nodes (one kind): they are sole homes; ONE and FOUR fit
    # other kinds too. Without GIANT no kind is anyone's only home.
    assert sole_homes(target(ONE, FOUR, GIANT), state).tolist() == [True, False, True, False]
    assert sole_homes(target(ONE, FOUR), state).tolist() == [False] * 4
    # A shape that fits only the g3s by memory (500 GiB) makes them sole homes as well.
    heavy = TargetWorkload([ONE, FOUR], [1, 1], memory=[8 * GIB, 500 * GIB])
    assert sole_homes(heavy, state).tolist() == [True, False, True, False]
    # A shape no node can host (16 GPUs) makes no sole home; the GPU type is not looked at
    # (a shape pinned to T4 does not make the T4 node its sole home).
    huge = Shape(1_000, 1000, 16, None)
    pinned = Shape(4_000, 1000, 1, ("T4",))
    assert sole_homes(target(ONE, huge, pinned), state).tolist() == [False] * 4


def test_silk_r8_keeps_the_sole_homes_for_last_and_falls_back_to_them() -> None:
    # g3a holds a one-GPU pod; a four-GPU pod arrives. FGD's score prefers g3a (58: the pod
    # fills the g3 already broken) to the idle g2 (50) and the idle g3b (20), and silk
    # (FGD's score first) takes g3a. With GIANT in the target the g3s are its sole homes:
    # silk-r8 takes the g2, the only other node the pod fits.
    pod = Demand(4, 1000, 60_000, 100 * GIB)
    with_giant = target(ONE, FOUR, GIANT)

    def one_g3_in_use() -> ClusterState:
        state = ClusterState(nodes())
        pool = int(state.pool_of_node[0])
        state.apply(Allocation(pool, Demand(1, 1000, 4_000, 8 * GIB), [(0, (0,))]))
        return state

    points = FgdScorer(with_giant).points(one_g3_in_use(), pod, np.arange(3))
    assert points.tolist() == [58, 50, 20]
    assert chosen_node(SilkR7Scorer(with_giant), one_g3_in_use(), pod) == 0
    assert chosen_node(SilkR8Scorer(with_giant), one_g3_in_use(), pod) == 1
    # When the g2 is full, the pod still goes to a g3: a last resort, not a ban.
    state = one_g3_in_use()
    g2 = int(state.pool_of_node[1])
    state.apply(Allocation(g2, Demand(8, 1000, 8_000, GIB), [(1, tuple(range(8)))]))
    assert chosen_node(SilkR8Scorer(with_giant), state, pod) == 0


def test_silk_r8_orders_like_silk_where_no_sole_home_is_a_candidate() -> None:
    # Without a sole home the first key is the same for every node, and the rank is
    # silk's: the same node for a whole-GPU, a sharing and a CPU-only pod.
    plain = target(ONE, FOUR)
    every = np.arange(4)
    for demand in (
        Demand(1, 1000, 4_000, 8 * GIB),
        Demand(1, 500, 2_000, GIB),
        Demand(0, 0, 2_000, 4 * GIB),
    ):
        state = ClusterState(nodes())
        want = SilkR7Scorer(plain).score(state, demand, every).tolist()
        assert SilkR8Scorer(plain).score(state, demand, every).tolist() == want


def test_silk_r8b_keeps_an_intact_sole_home_last_and_fills_a_broken_one() -> None:
    # A target with GIANT rare (2 of 92 pods), so FGD's 95% target is ONE and FOUR only.
    # On an idle g3a, g2, g3b a four-GPU pod scores 50 on a g3 and 20 on the g2 (FGD's
    # score: the g2's other four GPUs lose their use to FOUR's 60 cores): silk takes g3a.
    # Both candidates keep the g3s for GIANT and take the g2.
    rare = TargetWorkload.from_counts(
        Counter({ONE: 60, FOUR: 30, GIANT: 2}),
        memory={ONE: 8 * GIB, FOUR: 300 * GIB, GIANT: 700 * GIB},
    )
    pod = Demand(4, 1000, 60_000, 313 * GIB)

    def idle() -> ClusterState:
        return ClusterState(nodes()[:3])

    assert FgdScorer(rare).points(idle(), pod, np.arange(3)).tolist() == [50, 20, 50]
    assert chosen_node(SilkR7Scorer(rare), idle(), pod) == 0
    assert chosen_node(SilkR8Scorer(rare), idle(), pod) == 1
    assert chosen_node(SilkR8bScorer(rare), idle(), pod) == 1
    # g3a already holds a one-GPU pod: it can no longer host GIANT (seven GPUs free), so
    # silk-r8b lets silk's keys fill it (FGD's 58 against the g2's 50); silk-r8 still
    # keeps every g3 last and takes the g2.
    state = ClusterState(nodes())
    pool = int(state.pool_of_node[0])
    state.apply(Allocation(pool, Demand(1, 1000, 4_000, 8 * GIB), [(0, (0,))]))
    with_giant = target(ONE, FOUR, GIANT)
    small = Demand(4, 1000, 60_000, 100 * GIB)
    assert chosen_node(SilkR8bScorer(with_giant), state, small) == 0
    assert chosen_node(SilkR8Scorer(with_giant), state, small) == 1


def test_silk_r8_is_a_candidate_run_only_when_named() -> None:
    assert {"silk-r8", "silk-r8b"} <= set(PACKING_POLICIES) & CANDIDATES
