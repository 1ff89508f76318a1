"""Each placement policy's choice on tiny hand-checked clusters."""

from __future__ import annotations

import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import NodeScorer, PlacementPolicy
from silkroute.scheduler.policies.node_bestfit import BestFitScorer
from silkroute.scheduler.policies.node_dotprod import DotProductScorer
from silkroute.scheduler.policies.node_fgd import FgdScorer
from silkroute.scheduler.policies.node_gpuclustering import GpuClusteringScorer
from silkroute.scheduler.policies.node_gpupacking import GpuPackingScorer
from silkroute.scheduler.policies.node_random import RandomScorer
from silkroute.scheduler.policies.node_silk import SilkScorer
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState
from silkroute.sim.openb import Pod
from silkroute.sim.packing.driver import pod_job
from tests.packing.helpers import cluster, node, take
from tests.packing.test_fragmentation import TARGET

SHARE = Demand(1, 500, 2_000, 0)
WHOLE = Demand(1, 1000, 2_000, 0)


def three_nodes() -> ClusterState:
    """n0 free [500, 1000], n1 free [700, 300], n2 idle; 2 GPUs and 16 cores each.

    FGD for a 0.5-GPU, 2-core worker against TARGET (fragmentation before -> after):
      n0: 0.25*500 + 0.25*1500 = 500 -> 0.25*1000 = 250 taking GPU 0 (GPU 1 stays whole)
      n1: 0.5*300 + 0.25*1000 + 0.25*1000 = 650 -> 0.5*500 + 0.25*500 + 0.25*500 = 500
      n2: 0.25*2000 = 500 -> 0.25*500 + 0.25*1500 = 500
    so FGD takes n0 GPU 0 (-250), while best-fit takes n1 (least GPU left over)."""
    state = cluster(*(node(f"n{i}", 2, cpu=16_000) for i in range(3)))
    take(state, 0, 0, 500)
    take(state, 1, 0, 300)
    take(state, 1, 1, 700)
    return state


def place(scorer: NodeScorer, state: ClusterState, demand: Demand) -> tuple[int, tuple[int, ...]]:
    pod = Pod("p", demand.cpu_milli, 0, demand.gpu_slots, demand.gpu_milli, None, "BE", *[None] * 3)
    pools = state.pools_for(None, None, needs_accelerator=demand.gpu_slots > 0)
    alloc = PlacementPolicy(scorer, []).place(pod_job(0, pod), state, SiteCatalog([]), pools)
    assert alloc is not None
    state.apply(alloc)
    return alloc.workers[0]


def test_fgd_deltas_by_hand() -> None:
    state = three_nodes()
    scorer = FgdScorer(TARGET)
    deltas = scorer.score(state, SHARE, state.pools[0].nodes)
    assert deltas == pytest.approx([-250.0, -150.0, 0.0])


@pytest.mark.parametrize(
    ("scorer", "demand", "expected"),
    [
        (FgdScorer(TARGET), SHARE, (0, (0,))),  # least fragmentation (see three_nodes)
        (SilkScorer(TARGET), SHARE, (0, (0,))),  # same here: the gradient dominates
        (BestFitScorer(), SHARE, (1, (0,))),  # least GPU left after: n1 (1000 -> 500)
        (DotProductScorer(), SHARE, (0, (0,))),  # tightest accelerator 500 beats 700, 1000
        (GpuPackingScorer(), SHARE, (0, (0,))),  # a shared GPU that fits, fullest first
        (GpuPackingScorer(), WHOLE, (0, (1,))),  # a used node's whole GPU before idle n2
        (BestFitScorer(), WHOLE, (0, (1,))),  # n1 has no whole GPU; n0 is fuller than n2
        (FgdScorer(TARGET), WHOLE, (0, (1,))),  # -250 on n0 and n2 alike: lower index
    ],
)
def test_choice(scorer: NodeScorer, demand: Demand, expected: tuple[int, tuple[int, ...]]) -> None:
    assert place(scorer, three_nodes(), demand) == expected


def test_silk_keeps_idle_node_whole_where_fgd_is_indifferent() -> None:
    # Two 4-GPU nodes; n0 already runs a whole-GPU worker. A CPU-only-free target makes
    # fragmentation blind to where a whole GPU goes; silk packs it next to the first one.
    state = cluster(node("n0", 4), node("n1", 4))
    take(state, 0, 0, 1000)
    target_whole_only = type(TARGET)([TARGET.shapes[1]], [1])
    fgd = FgdScorer(target_whole_only).score(state, WHOLE, state.pools[0].nodes)
    assert fgd[0] == fgd[1]
    assert place(SilkScorer(target_whole_only), state, WHOLE)[0] == 0


def test_gpupacking_prefers_small_idle_node() -> None:
    state = cluster(node("big", 8), node("small", 2))
    assert place(GpuPackingScorer(), state, WHOLE)[0] == 1


def test_gpuclustering_keeps_equal_shares_together() -> None:
    state = cluster(node("a", 2), node("b", 2), node("c", 2))
    scorer = GpuClusteringScorer()
    first = place(scorer, state, SHARE)[0]
    assert place(scorer, state, Demand(1, 300, 0, 0))[0] != first  # another share: idle node
    assert place(scorer, state, SHARE)[0] == first  # same share: back with its kind


def test_random_is_seeded() -> None:
    def choices(seed: int) -> list[int]:
        state = cluster(*(node(f"n{i}", 8) for i in range(6)))
        scorer = RandomScorer(seed)
        return [place(scorer, state, SHARE)[0] for _ in range(12)]

    assert choices(1) == choices(1)
    assert choices(1) != choices(2)


def test_registry_names_every_policy() -> None:
    for name in ("fgd", "bestfit", "dotprod", "gpupacking", "gpuclustering", "random", "silk"):
        assert NODE_SCORERS[name]().name == name


def test_registry_fgd_learns_its_target() -> None:
    # From the registry FGD has no pod list: it learns shapes from the demands it places.
    state = three_nodes()
    assert place(NODE_SCORERS["fgd"](), state, SHARE)[0] in (0, 1, 2)
