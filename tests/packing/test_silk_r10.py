"""silk, the tenth round's rule of issue 15 (`silk-r10` while a candidate): `silk-r8` with
FGD's score counting memory as the first key after the sole homes, FGD's own score after it."""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, TargetWorkload
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_silk_r8 import SilkR8Scorer
from silkroute.scheduler.policies.node_silk_r10 import SilkR10Scorer
from silkroute.scheduler.registry import REGISTRY
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.sim.packing.policies import CANDIDATES, PACKING_POLICIES
from tests.packing.helpers import chosen_node

GIB = 1024
LIGHT_CPU = Shape(4_000, 1000, 1, None)  # one GPU, 4 cores (40 GiB, below)
HEAVY_CPU = Shape(20_000, 1000, 1, None)  # one GPU, 20 cores (8 GiB)
# Popularity 7:3; each shape's mean memory, as the target learns it from the pods.
TARGET = TargetWorkload([LIGHT_CPU, HEAVY_CPU], [7, 3], memory=[40 * GIB, 8 * GIB])
POD = Demand(1, 1000, 4_000, 40 * GIB)  # a LIGHT_CPU pod


def nodes() -> list[NodeInfo]:
    """a: 2 GPUs, 24 cores, 64 GiB; b: 2 GPUs, 22 cores, 128 GiB."""
    return [
        NodeInfo("a", "s", "V100", 2, 24_000, 64 * GIB),
        NodeInfo("b", "s", "V100", 2, 22_000, 128 * GIB),
    ]


def test_silk_r10_puts_the_score_with_memory_before_fgd_s_own() -> None:
    # After the pod, a keeps 1 GPU, 20 cores and 24 GiB: FGD's score sees both shapes still
    # fit (it reads CPU, not memory): no change, 50. b keeps 1 GPU, 18 cores, 88 GiB: the
    # 20-core shape no longer fits: 0.3 of a GPU lost, int(100 sigmoid(-0.3)) = 42.
    # Counting memory, a's last GPU is lost to the 40 GiB shape (0.7: 33) and b's only to the
    # 20-core one (42). silk-r8 follows FGD's score to a, stranding a GPU beside 24 GiB;
    # silk (silk-r10) takes b.
    state = ClusterState(nodes())
    assert FgdScorer(TARGET).points(state, POD, np.arange(2)).tolist() == [50, 42]
    assert chosen_node(SilkR8Scorer(TARGET), ClusterState(nodes()), POD) == 0
    assert chosen_node(SilkR10Scorer(TARGET), ClusterState(nodes()), POD) == 1


def test_silk_r10_is_silk_r8_where_memory_changes_nothing() -> None:
    # Every shape's memory unknown (0): the score with memory is FGD's own, and the keys
    # order the candidates as silk-r8's do.
    plain = TargetWorkload([LIGHT_CPU, HEAVY_CPU], [7, 3])
    assert chosen_node(SilkR8Scorer(plain), ClusterState(nodes()), POD) == 0
    assert chosen_node(SilkR10Scorer(plain), ClusterState(nodes()), POD) == 0
    state = ClusterState(nodes())
    all_nodes = np.arange(2)
    assert (
        SilkR10Scorer(plain).score(state, POD, all_nodes).tolist()
        == SilkR8Scorer(plain).score(ClusterState(nodes()), POD, all_nodes).tolist()
    )


def test_silk_is_the_tenth_round_rule_and_its_candidate_name_runs_only_when_named() -> None:
    target = TargetWorkload([LIGHT_CPU, HEAVY_CPU], [7, 3])
    assert isinstance(PACKING_POLICIES["silk"](target, 1), SilkR10Scorer)
    assert type(PACKING_POLICIES["silk-r8"](target, 1)) is SilkR8Scorer
    assert REGISTRY.lookup("node-scorer", "silk") is SilkR10Scorer
    assert {"silk-r10", "silk-r8"} <= CANDIDATES and "silk" not in CANDIDATES
