"""silk, the seventh round's rule of issue 15 (`silk-r7` while a candidate): silk-r5t's keys,
with silk-r6's full-coverage hostable demand (counted with memory, each shape weighted by
popularity x scarcity) asked of idle nodes too and before the score with memory."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, TargetWorkload
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_silk import SilkScorer, gpu_pods, hostable_of
from silkroute.scheduler.policies.node_silk_r5 import SilkR5TieScorer, hostable_with_memory
from silkroute.scheduler.policies.node_silk_r6 import SilkR6Scorer
from silkroute.scheduler.policies.node_silk_r7 import SilkR7Cache, SilkR7Scorer, scarcity
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.sim.packing.policies import CANDIDATES, PACKING_POLICIES
from tests.packing.helpers import chosen_node, random_placements

GIB = 1024
# A common one-GPU shape (96 pods, 8 GiB) and a rare big one (4 pods): two whole GPUs,
# 8 cores, 100 GiB. FGD's 95% coverage stops after the common shape, so only full coverage
# has BIG, and only memory keeps BIG off a node with cores and GPUs enough.
COMMON = Shape(4_000, 1000, 1, None)
BIG = Shape(8_000, 1000, 2, None)
TARGET = TargetWorkload.from_counts(
    Counter({COMMON: 96, BIG: 4}), memory={COMMON: 8 * GIB, BIG: 100 * GIB}
)
CPU_POD = Demand(0, 0, 2_000, 40 * GIB)  # CPU only: 2 cores, 40 GiB
# In both clusters below BIG fits only node x (100 GiB of memory), half the cluster's GPUs:
# scarcity 2, so over every shape the weights are 0.96 and 0.04 x 2, i.e. 0.96 / 1.04 and
# 0.08 / 1.04 once normalised.
W_COMMON, W_BIG = 0.96 / 1.04, 0.08 / 1.04


def cluster() -> ClusterState:
    """Both nodes in use, both GPUs idle on each.
    x: 16 cores, 128 GiB; a pod holds 1 core and 8 GiB: 15 cores, 120 GiB free (BIG fits).
    y: 64 cores, 64 GiB; a pod holds 1 core and 4 GiB: 63 cores, 60 GiB free (BIG does
    not: too little memory, although cores and GPUs are enough)."""
    state = ClusterState(
        [
            NodeInfo("x", "s", "T4", 2, 16_000, 128 * GIB),
            NodeInfo("y", "s", "T4", 2, 64_000, 64 * GIB),
        ]
    )
    pool = int(state.pool_of_node[0])
    state.apply(Allocation(pool, Demand(0, 0, 1_000, 8 * GIB), [(0, ())]))
    state.apply(Allocation(pool, Demand(0, 0, 1_000, 4 * GIB), [(1, ())]))
    return state


def test_scarcity_is_the_clusters_gpus_over_those_of_the_nodes_a_shape_fits() -> None:
    # x and y have 2 GPUs each: COMMON fits both (4000 / 4000), BIG only x (4000 / 2000); a
    # four-GPU shape fits neither: 0, not an infinite weight.
    four = Shape(4_000, 1000, 4, None)
    target = TargetWorkload([COMMON, BIG, four], [1, 1, 1], memory=[8 * GIB, 100 * GIB, 0])
    assert scarcity(target, cluster()).tolist() == [1.0, 2.0, 0.0]
    host = SilkR7Cache(cluster(), TARGET).host
    assert host.shapes == (COMMON, BIG)
    assert host.weight.tolist() == pytest.approx([W_COMMON, W_BIG])


def test_silk_r7_keeps_the_memory_a_rare_big_shape_needs() -> None:
    # The CPU-only pod: 2 cores, 40 GiB.
    # - FGD's score on the 95% target (COMMON only) is 50 on both nodes, with memory too:
    #   COMMON fits on each before and after (x 13 cores and 80 GiB left, y 61 and 20 GiB).
    # - Hostable demand over COMMON, with memory: x min(2 GPUs, 15//4, 120//8) = 2 -> min(2,
    #   13//4, 80//8) = 2; y min(2, 63//4, 60//8) = 2 -> min(2, 61//4, 20//8) = 2: no loss
    #   on either, so silk-r5t's best fit takes x (0.5*13/64 + 0.5*2/2 = 0.60, y 0.98).
    # - Over every shape without memory (silk-r6): BIG, min(2//2, 15//8) = 1 -> min(1,
    #   13//8) = 1 on x, 1 -> 1 on y: no loss either, best fit takes x too.
    # - silk-r7: BIG fits x before (120 >= 100 GiB) and not after (80): x loses one BIG,
    #   W_BIG x 2 GPUs x 1000 = 153.8; y never fits BIG (60 GiB): 0. It takes y.
    nodes = np.array([0, 1])
    state = cluster()
    assert FgdScorer(TARGET).points(state, CPU_POD, nodes).tolist() == [50, 50]
    r5t, r6, r7 = SilkR5TieScorer(TARGET), SilkR6Scorer(TARGET), SilkR7Scorer(TARGET)
    assert r5t.hostable_loss(r5t.cache(state), CPU_POD, nodes).tolist() == [0.0, 0.0]
    assert r6.hostable_loss(r6.cache(state), CPU_POD, nodes).tolist() == [0.0, 0.0]
    got = r7.hostable_loss(r7.cache(state), CPU_POD, nodes).tolist()
    assert got == pytest.approx([W_BIG * 2000, 0])
    assert chosen_node(SilkScorer(TARGET), cluster(), CPU_POD) == 0
    assert chosen_node(SilkR5TieScorer(TARGET), cluster(), CPU_POD) == 0
    assert chosen_node(SilkR6Scorer(TARGET), cluster(), CPU_POD) == 0
    assert chosen_node(SilkR7Scorer(TARGET), cluster(), CPU_POD) == 1


def test_silk_r7_asks_idle_nodes_what_they_would_lose_too() -> None:
    # Two idle nodes of 2 GPUs: x 16 cores and 128 GiB (the one BIG fits), y 64 cores and
    # 64 GiB. A one-GPU pod of 4 cores and 8 GiB.
    # - FGD's score (COMMON only) and the score with memory: COMMON still fits on either,
    #   50 and 50. Idle nodes both.
    # - silk, silk-r6 and silk-r5t order idle nodes by best fit (silk-r5t after the memory
    #   score, a tie): x (0.5*12/64 + 0.5*1/2 = 0.34) before y (0.5*60/64 + 0.25 = 0.72).
    # - silk-r7 asks both their hostable loss: each loses one COMMON (W_COMMON x 1000), x
    #   also its one BIG (W_BIG x 2000): y loses less and is taken.
    def idle() -> ClusterState:
        return ClusterState(
            [
                NodeInfo("x", "s", "T4", 2, 16_000, 128 * GIB),
                NodeInfo("y", "s", "T4", 2, 64_000, 64 * GIB),
            ]
        )

    pod = Demand(1, 1000, 4_000, 8 * GIB)
    nodes = np.array([0, 1])
    assert FgdScorer(TARGET).points(idle(), pod, nodes).tolist() == [50, 50]
    r7 = SilkR7Scorer(TARGET)
    state = idle()
    assert r7.cache(state).idle(nodes).tolist() == [True, True]
    got = r7.hostable_loss(r7.cache(state), pod, nodes).tolist()
    assert got == pytest.approx([W_COMMON * 1000 + W_BIG * 2000, W_COMMON * 1000])
    for scorer in (SilkScorer(TARGET), SilkR6Scorer(TARGET), SilkR5TieScorer(TARGET)):
        assert chosen_node(scorer, idle(), pod) == 0
    assert chosen_node(SilkR7Scorer(TARGET), idle(), pod) == 1


@pytest.mark.parametrize(
    "demand",
    [Demand(1, 1000, 4_000, 8 * GIB), Demand(1, 500, 2_000, GIB), CPU_POD],
    ids=["a whole-GPU pod", "a sharing pod", "a CPU-only pod"],
)
def test_silk_r7_keeps_fgds_score_on_the_95_percent_target(demand: Demand) -> None:
    # The first key is FGD's, on the typical shapes only: the same points as fgd's.
    nodes = np.array([0, 1])
    state = cluster()
    want = FgdScorer(TARGET).points(state, demand, nodes).tolist()
    assert SilkR7Scorer(TARGET).points(state, demand, nodes).tolist() == want


def test_an_unknown_memory_limits_nothing_in_the_hostable_demand() -> None:
    # Shapes whose mean memory is unknown (0) keep the count by GPUs and CPU: with no memory
    # known at all the demand is silk's `hostable_of`, whatever the free memory (1 node,
    # 2 idle GPUs, 15 cores: COMMON 2 pods x 0.96 x 1000 + BIG 1 pod x 0.04 x 2000 = 2000).
    blind = TargetWorkload([COMMON, BIG], [96, 4])
    gpu, cpu = np.array([[1000, 1000]]), np.array([15_000])
    ok = np.ones((1, 2), dtype=bool)
    pods = gpu_pods(blind, gpu)
    for mem in (0, 3 * GIB, 500 * GIB):
        got = hostable_with_memory(blind, ok, pods, cpu, np.array([mem]))
        assert got.tolist() == hostable_of(blind, ok, pods, cpu).tolist() == [2000.0]
    # One shape known, one not: only the known one is limited (60 GiB: BIG 0, COMMON 2).
    half = TargetWorkload([COMMON, BIG], [96, 4], memory=[0.0, 100 * GIB])
    got = hostable_with_memory(half, ok, gpu_pods(half, gpu), cpu, np.array([60 * GIB]))
    assert got.tolist() == pytest.approx([1920.0])


def test_silk_r7_bookkeeping_equals_a_recount() -> None:
    # silk-r7 reads the full-coverage GPU counts its cache keeps per node (recounted only
    # where the free arrays moved). After every placement and release, a scorer that
    # followed the run scores every node as a fresh one does, which counts from scratch.
    tiny = Shape(2_000, 500, 1, None)
    target = TargetWorkload.from_counts(
        Counter(
            {
                tiny: 60,
                COMMON: 30,
                Shape(6_000, 0, 0, None): 6,
                BIG: 3,
                Shape(14_000, 1000, 1, None): 1,
            }
        ),
        memory={tiny: 4 * GIB, COMMON: 8 * GIB, BIG: 100 * GIB},  # the 14-core shape: unknown
    )
    assert len(target.full_coverage().shapes) > len(target.shapes)
    state = ClusterState(
        [NodeInfo(f"a{i}", "s", "A10", 4, 32_000, 160 * GIB) for i in range(3)]
        + [NodeInfo(f"t{i}", "s", "T4", 2, 16_000, 64 * GIB) for i in range(3)]
    )
    demands = [
        Demand(1, 500, 2_000, 4 * GIB), Demand(1, 1000, 4_000, 8 * GIB),
        Demand(2, 1000, 8_000, 100 * GIB), Demand(0, 0, 6_000, 16 * GIB),
        Demand(1, 1000, 14_000, 2 * GIB),
    ]  # fmt: skip
    followed = SilkR7Scorer(target)
    placed: list[Allocation] = []
    every = np.arange(len(state.node_names))
    for _ in random_placements(followed, state, demands, 11, placed):
        kept, fresh = followed.cache(state), SilkR7Cache(state, target)
        assert kept.gpu_pods.tolist() == fresh.gpu_pods.tolist()
        for demand in demands:
            fits = every[state.worker_capacity(every, demand) > 0]
            if len(fits):
                want = SilkR7Scorer(target).score(state, demand, fits).tolist()
                assert followed.score(state, demand, fits).tolist() == want
    assert placed  # the run placed pods, so the check above compared caches that moved


def test_idle_nodes_asked_once_per_kind_lose_what_each_would() -> None:
    # Three idle x-like nodes, two idle y-like ones, one x-like node whose only pod holds
    # memory but no CPU (idle by accelerators and CPU, not by memory) and one busy node:
    # the loss counted once per kind of empty node equals the loss asked of every node.
    state = ClusterState(
        [NodeInfo(f"x{i}", "s", "T4", 2, 16_000, 128 * GIB) for i in range(4)]
        + [NodeInfo(f"y{i}", "s", "T4", 2, 64_000, 64 * GIB) for i in range(3)]
    )
    pool = int(state.pool_of_node[0])
    state.apply(Allocation(pool, Demand(0, 0, 0, 40 * GIB), [(3, ())]))
    state.apply(Allocation(pool, Demand(1, 1000, 4_000, 8 * GIB), [(6, (0,))]))
    nodes = np.arange(7)
    r7 = SilkR7Scorer(TARGET)
    cache = r7.cache(state)
    assert cache.pristine(nodes).tolist() == [True] * 3 + [False] + [True] * 2 + [False]
    for demand in (CPU_POD, Demand(1, 1000, 4_000, 8 * GIB), Demand(2, 1000, 8_000, 90 * GIB)):
        each = SilkR5TieScorer.hostable_loss(r7, cache, demand, nodes).tolist()
        assert r7.hostable_loss(cache, demand, nodes).tolist() == each
        assert each[3] != each[0]  # the memory its pod holds counts


def test_the_seventh_round_rule_is_silk_and_the_rule_it_replaced_silk_r4() -> None:
    assert isinstance(NODE_SCORERS["silk"](), SilkR7Scorer)
    assert NODE_SCORERS["silk"]().name == "silk"
    r4 = NODE_SCORERS["silk-r4"]()
    assert type(r4) is SilkScorer and r4.name == "silk-r4"
    assert isinstance(PACKING_POLICIES["silk"](TARGET, 1), SilkR7Scorer)
    assert type(PACKING_POLICIES["silk-r4"](TARGET, 1)) is SilkScorer
    assert "silk" not in CANDIDATES and "silk-r4" not in CANDIDATES
