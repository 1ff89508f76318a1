"""silk-r5 (issue 15, fifth round): memory counted where FGD and silk count only GPUs and CPU."""

from __future__ import annotations

import numpy as np
import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, Stats, TargetWorkload
from silkroute.scheduler.memory import ArrivalShapes
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_silk import SilkScorer
from silkroute.scheduler.policies.node_silk_r5 import (
    SilkR5Scorer,
    SilkR5TieScorer,
    frag_with_memory,
)
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.sim.openb import Pod
from silkroute.sim.packing.workload import target_of
from tests.packing.helpers import chosen_node

GIB = 1024
# Two one-GPU shapes, equally popular: a memory-hungry one (48 GiB) and a light one (8 GiB).
HUNGRY = Shape(4_000, 1000, 1, None)
LIGHT = Shape(2_000, 1000, 1, None)
TARGET = TargetWorkload([HUNGRY, LIGHT], [1, 1], memory=[48 * GIB, 8 * GIB])


def two_nodes() -> ClusterState:
    """Alike but for memory: 2 GPUs and 16 cores each, 64 and 128 GiB."""
    return ClusterState(
        [
            NodeInfo("small-mem", "s", "T4", 2, 16_000, 64 * GIB),
            NodeInfo("big-mem", "s", "T4", 2, 16_000, 128 * GIB),
        ]
    )


def test_fragmentation_with_memory_by_hand() -> None:
    # One node, 1 idle GPU, 12 cores: with 32 GiB free HUNGRY does not fit (48 GiB), so its
    # half of the popularity counts the idle GPU: 0.5 * 1000 = 500; LIGHT fits (nothing).
    # With 96 GiB both fit: 0. FGD's own fragmentation ignores memory: 0 either way.
    stats = Stats.of(TARGET, np.array([[1000]]), np.array([12_000]), np.ones((1, 2), bool))
    assert stats.frag(TARGET).tolist() == [0.0]
    assert frag_with_memory(stats, np.array([32 * GIB]), TARGET).tolist() == [500.0]
    assert frag_with_memory(stats, np.array([96 * GIB]), TARGET).tolist() == [0.0]
    # Unknown memory (0) limits nothing.
    blind = TargetWorkload([HUNGRY, LIGHT], [1, 1])
    assert frag_with_memory(stats, np.array([0]), blind).tolist() == [0.0]


def test_silk_r5_keeps_memory_beside_idle_gpus_where_fgd_and_silk_are_blind() -> None:
    # A one-GPU pod with 32 GiB. On small-mem it leaves 1 GPU and 32 GiB: HUNGRY no longer
    # fits, fragmentation 0 -> 500, FGD-with-memory score int(100 sigmoid(-0.5)) = 37. On
    # big-mem it leaves 96 GiB: 0 -> 0, score 50. FGD (and silk, whose first key it is) score
    # both 50 (no memory) and take the first node in their order.
    pod = Demand(1, 1000, 4_000, 32 * GIB)
    nodes = np.array([0, 1])
    assert FgdScorer(TARGET).points(two_nodes(), pod, nodes).tolist() == [50, 50]
    assert chosen_node(FgdScorer(TARGET), two_nodes(), pod) == 0
    assert chosen_node(SilkScorer(TARGET), two_nodes(), pod) == 0
    scorer = SilkR5Scorer(TARGET)
    state = two_nodes()
    assert scorer.deltas(scorer.cache(state), pod, nodes).tolist() == [500.0, 0.0]
    assert chosen_node(SilkR5Scorer(TARGET), two_nodes(), pod) == 1
    assert chosen_node(SilkR5TieScorer(TARGET), two_nodes(), pod) == 1


def test_silk_r5t_keeps_fgds_score_first_and_memory_second() -> None:
    # Target: HUNGRY, LIGHT and a two-GPU shape (8 cores, 16 GiB), a third each. x has 2 of
    # its 3 GPUs, 16 cores and 40 GiB free; y is idle: 4 GPUs, 16 cores, 64 GiB. The pod: one
    # GPU, 4 cores, 32 GiB.
    # - FGD: on x the two-GPU shape stops fitting (1 GPU left): +1000/3, score 41; y keeps
    #   3 GPUs: 0, score 50. FGD, and silk-r5t whose first key this is, take y.
    # - With memory: y is left 32 GiB, HUNGRY (48) stops fitting on its 3 GPUs: +1000,
    #   score 26; on x HUNGRY did not fit before (40 GiB) nor after, the two-GPU shape stops
    #   fitting but LIGHT still does: 2000/3 before and after, score 50. silk-r5 takes x.
    def state() -> ClusterState:
        cluster = ClusterState(
            [
                NodeInfo("x", "s", "T4", 3, 20_000, 48 * GIB),
                NodeInfo("y", "s", "T4", 4, 16_000, 64 * GIB),
            ]
        )
        pool = int(cluster.pool_of_node[0])
        cluster.apply(Allocation(pool, Demand(1, 1000, 4_000, 8 * GIB), [(0, (0,))]))
        return cluster

    two = Shape(8_000, 1000, 2, None)
    target = TargetWorkload([HUNGRY, LIGHT, two], [1, 1, 1], memory=[48 * GIB, 8 * GIB, 16 * GIB])
    pod = Demand(1, 1000, 4_000, 32 * GIB)
    nodes = np.array([0, 1])
    assert FgdScorer(target).points(state(), pod, nodes).tolist() == [41, 50]
    r5 = SilkR5Scorer(target)
    assert r5.deltas(r5.cache(state()), pod, nodes).tolist() == pytest.approx([0.0, 1000.0])
    assert chosen_node(FgdScorer(target), state(), pod) == 1
    assert chosen_node(SilkR5TieScorer(target), state(), pod) == 1
    assert chosen_node(SilkR5Scorer(target), state(), pod) == 0


def test_silk_r5_hostable_demand_counts_memory() -> None:
    # Each node runs one whole-GPU pod (8 cores, 48 GiB): 1 GPU and 8 cores left on both,
    # 16 GiB on small-mem, 80 GiB on big-mem. A CPU-only pod of 2 cores and 12 GiB:
    # - small-mem hosts one LIGHT before (16 GiB; HUNGRY needs 48) and none after (4 GiB):
    #   it loses LIGHT's 0.5 x 1000 = 500 thousandths of hostable demand;
    # - big-mem hosts each shape once (counted apart) before (80 GiB) and after (68 GiB).
    # silk counts GPUs and CPU only, and sees neither node lose anything.
    state = two_nodes()
    for node, mem in ((0, 48 * GIB), (1, 48 * GIB)):
        state.apply(Allocation(int(state.pool_of_node[node]), Demand(1, 1000, 8_000, mem),
                               [(node, (0,))]))  # fmt: skip
    scorer = SilkR5Scorer(TARGET)
    cache = scorer.cache(state)
    light = Demand(0, 0, 2_000, 12 * GIB)
    assert scorer.hostable_loss(cache, light, np.array([0, 1])).tolist() == [500.0, 0.0]
    assert SilkScorer(TARGET).hostable_loss(cache, light, np.array([0, 1])).tolist() == [0.0, 0.0]


def test_silk_r5_without_known_memory_is_silk() -> None:
    # With no memory in the target every memory check passes: the same scores as silk.
    blind = TargetWorkload([HUNGRY, LIGHT, Shape(2_000, 500, 1, None)], [1, 1, 2])
    state = two_nodes()
    nodes = np.array([0, 1])
    for demand in (Demand(1, 1000, 4_000, 32 * GIB), Demand(1, 500, 2_000, GIB),
                   Demand(0, 0, 2_000, GIB)):  # fmt: skip
        want = SilkScorer(blind).score(state, demand, nodes).tolist()
        assert SilkR5Scorer(blind).score(state, demand, nodes).tolist() == want
        assert SilkR5TieScorer(blind).score(state, demand, nodes).tolist() == want


def test_target_memory_is_each_shapes_mean() -> None:
    pods = [
        Pod(f"p{i}", 4_000, mem, 1, 1000, None, "BE", None, None, None)
        for i, mem in enumerate((40 * GIB, 56 * GIB))
    ] + [Pod(f"c{i}", 2_000, 8 * GIB, 0, 0, None, "BE", None, None, None) for i in range(2)]
    target = target_of(pods)
    memory = dict(zip(target.shapes, target.mem.tolist(), strict=True))
    assert memory == {Shape(4_000, 1000, 1, None): 48 * GIB, Shape(2_000, 0, 0, None): 8 * GIB}
    arrivals = ArrivalShapes()  # its target is rebuilt at 1, 2, 4 ... tasks: four here
    for pod in pods:
        arrivals.arrived(pod.demand, 1)
    learnt = arrivals.target()
    assert learnt is not None
    assert dict(zip(learnt.shapes, learnt.mem.tolist(), strict=True)) == pytest.approx(memory)


def test_registry_has_the_fifth_round_candidates() -> None:
    for name in ("silk-r5", "silk-r5t"):
        assert NODE_SCORERS[name]().name == name
