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
from silkroute.scheduler.policies.node_silk import (
    SilkCache,
    SilkScorer,
    gap_counts,
    hostable,
    sum_of_squares_change,
    usability,
)
from silkroute.scheduler.policies.node_silk_classic import SilkClassicScorer
from silkroute.scheduler.registry import NODE_SCORERS
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState
from silkroute.sim.openb import Pod
from silkroute.sim.packing.driver import pod_job
from tests.builders import book_for, job, nodes
from tests.packing.helpers import cluster, node, random_placements, take
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
        (SilkClassicScorer(TARGET), SHARE, (0, (0,))),
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
    assert place(SilkClassicScorer(target_whole_only), state(), WHOLE)[0] == 1


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
    assert place(SilkClassicScorer(target), state(), WHOLE)[0] == 1


@pytest.mark.parametrize(
    ("free", "usable"),
    [
        (1000, 1.0),  # a whole GPU: both one-GPU shapes of TARGET (HALF 2/3, WHOLE 1/3)
        (900, 2 / 3),  # HALF only
        (500, 2 / 3),  # exactly HALF's share
        (499, 0.0),  # a sliver no shape can use
        (0, 0.0),
    ],
)
def test_silk_usability_of_a_free_part(free: int, usable: float) -> None:
    assert usability(TARGET, np.array([free])).tolist() == pytest.approx([usable])


def test_silk_sharing_key_is_the_usability_lost_on_the_best_scored_accelerator() -> None:
    # three_nodes for SHARE (0.5 GPU): n0 scores 56 on GPU 0 (500 -> 0: loses HALF, 2/3),
    # n1 53 on GPU 0 (700 -> 200: loses HALF, 2/3), n2 50 on an idle GPU (1000 -> 500:
    # loses only WHOLE, 1/3). The usability key orders only equal scores: n0 still wins.
    # Plus the sum-of-squares change of the gap counts (gaps 500, 700, 300 once each):
    # n0 500 -> 0 closes a gap (-1), n1 700 -> 200 moves one (+1 - 1 = 0), n2 1000 -> 500
    # opens a second 500 (2 * 1 + 1 = +3); usability is scaled by 10^6.
    state = three_nodes()
    scorer = SilkScorer(TARGET)
    points, lost = scorer.share_keys(scorer.cache(state), SHARE, state.pools[0].nodes)
    assert points.tolist() == [56, 53, 50]
    expected = [2 / 3 * 1e6 - 1, 2 / 3 * 1e6, 1 / 3 * 1e6 + 3]
    assert lost.tolist() == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    ("free", "share", "change"),
    [
        (1000, 810, 2 * 2 + 1),  # an idle GPU (not counted) opens a third 190 gap
        (810, 810, 1 - 2 * 1),  # an exact fit closes the only 810 gap
        (900, 300, (2 * 0 + 1) + (1 - 2 * 3)),  # a first 600 gap, one 900 gap fewer
        (900, 710, (2 * 2 + 1) + (1 - 2 * 3)),  # a third 190 gap, one 900 gap fewer
    ],
)
def test_sum_of_squares_change_of_the_gap_counts(free: int, share: int, change: int) -> None:
    # Gaps: two accelerators with 190 free, one with 810, three with 900; one full, one idle.
    state = cluster(node("n0", 8))
    for slot, used in enumerate((810, 810, 190, 100, 100, 100, 1000)):
        take(state, 0, slot, used)
    counts = gap_counts(state)
    assert (counts[190], counts[810], counts[900], counts[0], counts[1000]) == (2, 1, 3, 0, 0)
    assert sum_of_squares_change(counts, np.array([free]), share).tolist() == [change]


def test_silk_keeps_the_cpu_that_idle_gpus_need() -> None:
    # Two nodes in use, 4 GPUs each. n0: 3 whole GPUs free, 24 of 32 cores free; n1: 1 whole
    # GPU free, 60 of 64 cores free. An 8-core CPU-only pod changes neither node's
    # fragmentation (every shape still fits both): FGD scores 50 and 50.
    # Hostable demand (popularity x GPU thousandths per pod x pods that still fit; TARGET's
    # HALF is 0.5 x 500 = 250 per pod, WHOLE 0.25 x 1000 = 250, CPU-only 0):
    #   n0: HALF min(6 by GPU, 24/4 = 6 by CPU) = 6, WHOLE min(3, 24/8 = 3) = 3: 2250;
    #       with 16 cores left HALF 4, WHOLE 2: 1500, a loss of 750 (its GPUs lose CPU);
    #   n1: HALF min(2, 15) = 2, WHOLE min(1, 7) = 1: 750, the same with 52 cores: loss 0.
    # Best fit would take n0 (0.5 * 16/64 + 0.5 * 3/4 = 0.5 against 0.5 * 52/64 + 0.5 * 1/4
    # = 0.53), as FGD's node order does; silk takes n1.
    def state() -> ClusterState:
        fresh = cluster(node("n0", 4, cpu=32_000), node("n1", 4, cpu=64_000))
        take(fresh, 0, 3, 1000, cpu=8_000)
        for gpu in (1, 2, 3):
            take(fresh, 1, gpu, 1000, cpu=4_000 if gpu == 1 else 0)
        return fresh

    cpu_pod = Demand(0, 0, 8_000, 0)
    both = np.array([0, 1])
    assert FgdScorer(TARGET).points(state(), cpu_pod, both).tolist() == [50, 50]
    scorer = SilkScorer(TARGET)
    fresh = state()
    type_ok = scorer.cache(fresh).stats.type_ok
    assert hostable(TARGET, type_ok, fresh.gpu_free, fresh.cpu_free).tolist() == [2250, 750]
    assert scorer.hostable_loss(scorer.cache(fresh), cpu_pod, both).tolist() == [750, 0]
    assert place(BestFitScorer(), state(), cpu_pod)[0] == 0
    assert place(FgdScorer(TARGET), state(), cpu_pod)[0] == 0
    assert place(scorer, state(), cpu_pod)[0] == 1


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
    for name in (*names, "silk", "silk-r4", "silk-classic"):
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


def test_silk_bookkeeping_kept_as_pods_come_and_go_equals_a_recount() -> None:
    # silk keeps hostable demand, gap counts and idle nodes per node in its cache and
    # recounts only the nodes that changed. After every placement and every release, a scorer
    # that has followed the whole run must hold what a fresh one counts from scratch, and so
    # score every node the same: the bookkeeping changes no decision.
    target = TargetWorkload(
        [Shape(2_000, 500, 1, None), Shape(4_000, 300, 1, None), WHOLE_SHAPE,
         Shape(16_000, 1000, 4, ("A10",)), Shape(6_000, 0, 0, None)],
        [4, 2, 2, 1, 1],
    )  # fmt: skip
    state = cluster(
        *(node(f"a{i}", 4, cpu=32_000, accel="A10") for i in range(3)),
        *(node(f"t{i}", 2, cpu=16_000, accel="T4") for i in range(3)),
    )
    demands = [
        Demand(1, 500, 2_000, 0), Demand(1, 300, 4_000, 0), Demand(1, 1000, 8_000, 0),
        Demand(2, 1000, 8_000, 0), Demand(0, 0, 6_000, 0),
    ]  # fmt: skip
    followed = SilkScorer(target)
    placed: list[Allocation] = []
    for _ in random_placements(followed, state, demands, 7, placed):
        kept, fresh = followed.cache(state), SilkCache(state, target)
        assert kept.gaps.tolist() == fresh.gaps.tolist()
        assert kept.gpu_pods.tolist() == fresh.gpu_pods.tolist()
        assert kept.hostable.tolist() == fresh.hostable.tolist()
        assert kept.gap_counts().tolist() == gap_counts(state).tolist()
        every = np.arange(len(state.node_names))
        assert (
            kept.hostable.tolist()
            == hostable(target, fresh.stats.type_ok, state.gpu_free, state.cpu_free).tolist()
        )
        for demand in demands:
            fits = every[state.worker_capacity(every, demand) > 0]
            if len(fits):
                want = SilkScorer(target).score(state, demand, fits).tolist()
                assert followed.score(state, demand, fits).tolist() == want
    assert len(placed) > 5  # the run placed and released real work
