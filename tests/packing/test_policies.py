"""Each placement policy's choice on tiny hand-checked clusters."""

from __future__ import annotations

import numpy as np
import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, TargetWorkload
from silkroute.scheduler.placement import NodeScorer, PlacementPolicy
from silkroute.scheduler.policies.node_bestfit import BestFitScorer
from silkroute.scheduler.policies.node_dotprod import DotProductScorer
from silkroute.scheduler.policies.node_fgd import FgdExactScorer, FgdScorer, fgd_points
from silkroute.scheduler.policies.node_gpuclustering import GpuClusteringScorer
from silkroute.scheduler.policies.node_gpupacking import GpuPackingScorer
from silkroute.scheduler.policies.node_random import RandomScorer
from silkroute.scheduler.policies.node_silk import SilkScorer
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState
from silkroute.sim.openb import Pod
from silkroute.sim.packing.driver import pod_job
from tests.builders import book_for, job, nodes
from tests.packing.helpers import cluster, node, take
from tests.packing.test_fragmentation import TARGET

WHOLE_SHAPE = Shape(8_000, 1000, 1, None)
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
    placement = PlacementPolicy(scorer, [])
    alloc = placement.place(pod_job(0, pod), state, SiteCatalog([]), pools)
    assert alloc is not None
    state.apply(alloc)
    placement.placed(state, alloc)
    return alloc.workers[0]


def test_fgd_deltas_by_hand() -> None:
    state = three_nodes()
    scorer = FgdExactScorer(TARGET)
    deltas = scorer.score(state, SHARE, state.pools[0].nodes)
    assert deltas == pytest.approx([-250.0, -150.0, 0.0])
    # FGD's whole-number scores: int(100 * sigmoid(-delta / 1000)), 50 = no change.
    assert FgdScorer(TARGET).points(state, SHARE, state.pools[0].nodes).tolist() == [56, 53, 50]


@pytest.mark.parametrize(
    ("delta", "points"),
    [
        (0.0, 50),  # no change
        (-40.0, 50),  # sigmoid(0.04) = 0.50999...: still 50
        (-50.0, 51),
        (-80.0, 51),  # sigmoid(0.08) = 0.51998...
        (-250.0, 56),
        (50.0, 48),  # more fragmentation: below 50 (sigmoid(-0.05) = 0.4875)
        (1e9, 0),
        (-1e9, 100),
    ],
)
def test_fgd_points(delta: float, points: int) -> None:
    assert fgd_points(np.array([delta])).tolist() == [points]


def tied_nodes() -> ClusterState:
    """Free thousandths n0 [1000, 900], n1 [1000, 880], n2 [900, 880]; 16 cores each.

    For SHARE (0.5 GPU, 2 cores) against TARGET, F before -> after the best accelerator:
      n0: WHOLE 0.25*900 + CPU 0.25*1900 = 700 -> GPU 1 (900 -> 400): HALF 0.5*400
          + WHOLE 0.25*400 + CPU 0.25*1400 = 650: delta -50, score int(100*sigmoid(0.05)) = 51
      n1: 0.25*880 + 0.25*1880 = 690 -> GPU 1 (880 -> 380): 190 + 95 + 345 = 630: -60, 51
      n2: no whole GPU: 0.25*1780 + 0.25*1780 = 890 -> GPU 0 (900 -> 400): 200 + 320 + 320
          = 840: -50, 51; or GPU 1 (880 -> 380): 190 + 320 + 320 = 830: -60, also 51
    All three tie at 51, so the node order decides; the exact delta would take n1."""
    state = cluster(*(node(f"n{i}", 2, cpu=16_000) for i in range(3)))
    take(state, 0, 1, 100)
    take(state, 1, 1, 120)
    take(state, 2, 0, 100)
    take(state, 2, 1, 120)
    return state


def test_fgd_ties_go_to_the_fixed_node_order() -> None:
    nodes = tied_nodes().pools[0].nodes
    assert FgdScorer(TARGET).points(tied_nodes(), SHARE, nodes).tolist() == [51, 51, 51]
    # No seed: node index order, n0, and its GPU 1 (the only one scoring 51 there).
    assert place(FgdScorer(TARGET), tied_nodes(), SHARE) == (0, (1,))
    # The exact delta breaks the tie: n1 (-60), on GPU 1.
    assert place(FgdExactScorer(TARGET), tied_nodes(), SHARE) == (1, (1,))
    # A seeded order: whichever node comes first in the permutation, every time.
    for seed in range(6):
        scorer = FgdScorer(TARGET, order_seed=seed)
        first = int(np.argmin(scorer.node_rank(tied_nodes())))
        assert place(scorer, tied_nodes(), SHARE)[0] == first


def test_fgd_sharing_pod_takes_lowest_index_gpu_among_the_best() -> None:
    # On n2 both accelerators score 51 (see tied_nodes): FGD takes GPU 0, the exact delta
    # GPU 1 (-60 beats -50).
    state = tied_nodes()
    assert FgdScorer(TARGET).pick_slots(state, 2, state.gpu_free[2].copy(), SHARE) == (0,)
    assert FgdExactScorer(TARGET).pick_slots(state, 2, state.gpu_free[2].copy(), SHARE) == (1,)


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
        (FgdExactScorer(TARGET), SHARE, (0, (0,))),
    ],
)
def test_choice(scorer: NodeScorer, demand: Demand, expected: tuple[int, tuple[int, ...]]) -> None:
    assert place(scorer, three_nodes(), demand) == expected


def test_silk_keeps_idle_node_whole_where_fgd_is_indifferent() -> None:
    # Two 4-GPU nodes; n1 already runs a whole-GPU worker. A whole-GPU-only target makes
    # fragmentation blind to where a whole GPU goes (both score 50): FGD takes n0 (node
    # order), silk packs it next to the first one on n1 and keeps n0 whole.
    def state() -> ClusterState:
        fresh = cluster(node("n0", 4), node("n1", 4))
        take(fresh, 1, 0, 1000)
        return fresh

    target_whole_only = type(TARGET)([TARGET.shapes[1]], [1])
    points = FgdScorer(target_whole_only).points(state(), WHOLE, state().pools[0].nodes)
    assert points.tolist() == [50, 50]
    assert place(FgdScorer(target_whole_only), state(), WHOLE)[0] == 0
    assert place(SilkScorer(target_whole_only), state(), WHOLE)[0] == 1


def test_silk_spares_the_type_constrained_pods_need() -> None:
    # One T4 node and one A10 node, alike (2 GPUs). The target: whole-GPU pods, and as many
    # 4-GPU pods pinned to T4 (4/5 of the GPU demand): T4's pressure is 0.8 / 0.5 = 1.6,
    # A10's 0. The pinned shape fits neither node, so a whole-GPU pod changes fragmentation
    # alike on both: FGD takes the first node in its order, silk the A10.
    def state() -> ClusterState:
        return cluster(node("t4", 2, accel="T4"), node("a10", 2, accel="A10"))

    pinned = Shape(8_000, 1000, 4, ("T4",))
    target = TargetWorkload([WHOLE_SHAPE, pinned], [1, 1])
    scorer = SilkScorer(target)
    assert scorer.type_pressure(state()).tolist() == pytest.approx([1.6, 0.0])
    nodes = np.array([0, 1])
    assert FgdScorer(target).points(state(), WHOLE, nodes).tolist() == [62, 62]  # delta -500
    assert place(FgdScorer(target), state(), WHOLE)[0] == 0
    assert place(scorer, state(), WHOLE)[0] == 1


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
    names = ("fgd", "fgd-exact", "bestfit", "dotprod", "gpupacking", "gpuclustering", "random")
    for name in (*names, "silk"):
        assert NODE_SCORERS[name]().name == name


def test_registry_fgd_learns_its_target_from_arrivals_each_counted_once() -> None:
    # From the registry FGD has no pod list: it learns shapes from the jobs that arrive.
    book, scheduler = book_for(nodes(1, gpus=2), placement="fgd+")
    jobs = [job(f"s{i}").gpus(0.5).build() for i in range(3)] + [job("w").gpus(1).build()]
    for j in jobs:
        book.submit(j)
    for now in range(5):  # steps that place and re-check blocked jobs score again and again
        book.commit(scheduler.step(book, float(now)), float(now))
    target = scheduler.placement.node_scorer.target  # type: ignore[attr-defined]
    share, whole = (Shape.of(j.demand) for j in (jobs[0], jobs[3]))
    assert dict(zip(target.shapes, target.weight.tolist(), strict=True)) == {
        share: 0.75,
        whole: 0.25,
    }


def test_fgd_without_a_target_or_a_book_says_so() -> None:
    with pytest.raises(ValueError, match="fgd: no target workload"):
        place(NODE_SCORERS["fgd"](), three_nodes(), SHARE)
