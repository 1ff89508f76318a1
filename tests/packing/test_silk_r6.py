"""silk-r6 (issue 15, sixth round): silk's hostable demand over every shape of the target."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, TargetWorkload
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_silk import SilkScorer
from silkroute.scheduler.policies.node_silk_r6 import SilkR6Scorer
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.sim.packing.policies import CANDIDATES, PACKING_POLICIES
from tests.packing.helpers import chosen_node

GIB = 1024
# A common one-GPU shape (96 pods) and a rare big one (4 pods): two whole GPUs, 14 cores.
# FGD's 95% coverage stops after the common shape (96 >= 95), so only full coverage has BIG.
COMMON = Shape(4_000, 1000, 1, None)
BIG = Shape(14_000, 1000, 2, None)
TARGET = TargetWorkload.from_counts(Counter({COMMON: 96, BIG: 4}))
CPU_POD = Demand(0, 0, 2_000, GIB)


def cluster() -> ClusterState:
    """Both nodes in use. x: 2 GPUs, both idle, 15 of 16 cores free: BIG still fits.
    y: 2 GPUs, one taken, 63 of 64 cores free: BIG cannot fit (one GPU)."""
    state = ClusterState(
        [
            NodeInfo("x", "s", "T4", 2, 16_000, 64 * GIB),
            NodeInfo("y", "s", "T4", 2, 64_000, 64 * GIB),
        ]
    )
    pool = int(state.pool_of_node[0])
    state.apply(Allocation(pool, Demand(0, 0, 1_000, GIB), [(0, ())]))
    state.apply(Allocation(pool, Demand(1, 1000, 1_000, GIB), [(1, (0,))]))
    return state


def test_full_coverage_keeps_every_shape_weighted_by_popularity() -> None:
    assert TARGET.shapes == (COMMON,)
    full = TARGET.full_coverage()
    assert full.shapes == (COMMON, BIG)
    assert full.weight.tolist() == pytest.approx([0.96, 0.04])
    assert TARGET.full_coverage() is full  # built once
    given = TargetWorkload([COMMON], [1])  # given shape by shape: nothing more to cover
    assert given.full_coverage() is given


def test_silk_r6_keeps_the_cpu_a_rare_big_shape_needs() -> None:
    # A CPU-only pod of 2 cores. FGD (95% target: COMMON only) scores both nodes 50: COMMON
    # fits on each before and after. silk's hostable demand over COMMON: x min(2 GPUs,
    # 15//4) = 2 -> min(2, 13//4) = 2, y min(1, 63//4) = 1 -> 1: no loss on either; best fit
    # then takes x (0.5*13/64 + 0.5*2/2 = 0.60 against y's 0.5*61/64 + 0.5*1/2 = 0.73).
    # Over every shape x also hosts one BIG (2 GPUs, 15 >= 14 cores) and loses it (13 < 14):
    # 0.04 * 2 * 1000 = 80; y could host none: silk-r6 takes y.
    nodes = np.array([0, 1])
    assert FgdScorer(TARGET).points(cluster(), CPU_POD, nodes).tolist() == [50, 50]
    silk, r6 = SilkScorer(TARGET), SilkR6Scorer(TARGET)
    state = cluster()
    assert silk.hostable_loss(silk.cache(state), CPU_POD, nodes).tolist() == [0.0, 0.0]
    assert r6.hostable_loss(r6.cache(state), CPU_POD, nodes).tolist() == pytest.approx([80, 0])
    assert chosen_node(SilkScorer(TARGET), cluster(), CPU_POD) == 0
    assert chosen_node(SilkR6Scorer(TARGET), cluster(), CPU_POD) == 1


def test_silk_r6_keeps_fgds_score_on_the_95_percent_target() -> None:
    # The first key is FGD's, on the typical shapes only: the same points as fgd's.
    nodes = np.array([0, 1])
    pod = Demand(1, 1000, 4_000, GIB)
    state = cluster()
    assert SilkR6Scorer(TARGET).points(state, pod, nodes).tolist() == (
        FgdScorer(TARGET).points(state, pod, nodes).tolist()
    )


def test_silk_r6_is_registered_and_runs_only_when_named() -> None:
    assert NODE_SCORERS["silk-r6"]().name == "silk-r6"
    assert "silk-r6" in PACKING_POLICIES and "silk-r6" in CANDIDATES
