"""silk-r5 (issue 15, fifth round): memory counted where FGD and silk count only GPUs and CPU."""

from __future__ import annotations

import numpy as np
import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, Stats, TargetWorkload
from silkroute.scheduler.memory import ArrivalShapes
from silkroute.scheduler.placement import NodeScorer, PlacementPolicy
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_silk import SilkScorer
from silkroute.scheduler.policies.node_silk_r5 import SilkR5Scorer, frag_with_memory
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.sim.openb import Pod
from silkroute.sim.packing.driver import pod_job
from silkroute.sim.packing.workload import target_of

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


def place(scorer: NodeScorer, state: ClusterState, demand: Demand) -> int:
    pod = Pod("p", demand.cpu_milli, demand.mem_mib, demand.gpu_slots, demand.gpu_milli,
              None, "BE", None, None, None)  # fmt: skip
    pools = state.pools_for(None, None, needs_accelerator=demand.gpu_slots > 0)
    alloc = PlacementPolicy(scorer, []).place(pod_job(0, pod), state, SiteCatalog([]), pools)
    assert alloc is not None
    return alloc.workers[0][0]


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
    assert place(FgdScorer(TARGET), two_nodes(), pod) == 0
    assert place(SilkScorer(TARGET), two_nodes(), pod) == 0
    scorer = SilkR5Scorer(TARGET)
    state = two_nodes()
    assert scorer.deltas(scorer.cache(state), pod, nodes).tolist() == [500.0, 0.0]
    assert place(SilkR5Scorer(TARGET), two_nodes(), pod) == 1


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


def test_registry_has_silk_r5() -> None:
    assert NODE_SCORERS["silk-r5"]().name == "silk-r5"
