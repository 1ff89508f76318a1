"""FGD's fragmentation measure against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import (
    FragCache,
    Shape,
    Stats,
    TargetWorkload,
    node_fragmentation,
)
from tests.packing.helpers import cluster, node, take

# Target: half the tasks want 0.5 GPU + 4 cores, a quarter 1 whole GPU + 8 cores,
# a quarter are CPU-only (2 cores).
HALF = Shape(4_000, 500, 1, None)
WHOLE = Shape(8_000, 1000, 1, None)
CPU = Shape(2_000, 0, 0, None)
TARGET = TargetWorkload([HALF, WHOLE, CPU], [2, 1, 1])


def test_hand_computed_example() -> None:
    # Node 0: 2 GPUs with 300 and 1000 free, 10 cores free.
    # Node 1: 2 GPUs with 600 and 200 free, 6 cores free.
    state = cluster(node("a", 2, cpu=16_000), node("b", 2, cpu=16_000))
    take(state, 0, 0, 700, cpu=6_000)
    take(state, 1, 0, 400, cpu=5_000)
    take(state, 1, 1, 800, cpu=5_000)
    # a: idle 1300. HALF fits (GPU 1): the 300 left on GPU 0 is too small -> 300.
    #    WHOLE fits (GPU 1, 10 >= 8 cores): GPU 0's 300 -> 300. CPU-only: all 1300.
    #    0.5*300 + 0.25*300 + 0.25*1300 = 550
    # b: idle 800. HALF fits on GPU 0 (600, 6 >= 4 cores): 200 -> 200.
    #    WHOLE: no whole GPU -> 800. CPU-only -> 800.  0.5*200 + 0.25*800 + 0.25*800 = 500
    assert node_fragmentation(state, TARGET) == pytest.approx([550.0, 500.0])


@pytest.mark.parametrize(
    ("free", "cpu", "expected"),
    [
        ([1000, 1000], 16_000, 0.25 * 2000),  # everything fits: only the CPU-only share
        ([1000, 1000], 3_000, 2000.0),  # too little CPU for any GPU shape: all idle
        ([400, 0], 16_000, 400.0),  # nothing fits the 400 left
        ([0, 0], 16_000, 0.0),  # no idle GPU, no fragmentation
    ],
)
def test_table(free: list[int], cpu: int, expected: float) -> None:
    state = cluster(node("a", 2, cpu=cpu))
    for slot, f in enumerate(free):
        if f < 1000:
            take(state, 0, slot, 1000 - f)
    assert node_fragmentation(state, TARGET)[0] == pytest.approx(expected)


def test_type_mismatch_counts_all_idle() -> None:
    only_a10 = TargetWorkload([Shape(0, 500, 1, ("A10",))], [1])
    state = cluster(node("t4", 1), node("a10", 1, accel="A10"))
    assert node_fragmentation(state, only_a10) == pytest.approx([1000.0, 0.0])


def test_typical_shapes_cover_95_percent() -> None:
    shapes = [HALF] * 60 + [WHOLE] * 36 + [CPU] * 4
    target = TargetWorkload.from_shapes(shapes)
    assert target.shapes == (HALF, WHOLE)  # 96% covered; the 4% tail is left out
    assert target.weight == pytest.approx([60 / 96, 36 / 96])


def test_incremental_updates_match_from_scratch() -> None:
    state = cluster(node("a", 4), node("b", 2), node("c", 8, cpu=64_000))
    cache = FragCache(state, TARGET)
    take(state, 2, 3, 250, cpu=1_000)
    take(state, 0, 0, 1000, cpu=9_000)
    assert cache.total() == pytest.approx(node_fragmentation(state, TARGET).sum())
    # The what-if formulas agree with a recomputation too.
    demand = Demand(1, 300, 2_000, 0)
    before = state.gpu_free[[2, 2, 0]][np.arange(3), [3, 0, 1]]
    after = cache.stats.take(np.array([2, 2, 0])).after_share(TARGET, before, demand)
    for k, (n, s) in enumerate([(2, 3), (2, 0), (0, 1)]):
        gpu = state.gpu_free[[n]].copy()
        gpu[0, s] -= 300
        cpu = state.cpu_free[[n]] - 2_000
        fresh = Stats.of(TARGET, gpu, cpu, cache.stats.type_ok[[n]])
        assert after.frag(TARGET)[k] == pytest.approx(fresh.frag(TARGET)[0])
