"""The experiment's workload: the pod list shuffled, then inflated by copies, in arrival order.

As in FGD's evaluation: shuffle the pods with the seed, then append pods drawn uniformly with
replacement from the originals until the next one would push the total GPU request past
`inflate` x the cluster's GPU capacity. Timestamps are ignored and nothing departs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from silkroute.scheduler.fragmentation import Shape, TargetWorkload
from silkroute.sim.openb import Pod


def inflate_pods(pods: Sequence[Pod], capacity_milli: int, inflate: float, seed: int) -> list[Pod]:
    if not pods:
        raise ValueError("the pod list is empty")
    if inflate <= 0:
        raise ValueError(f"inflate must be > 0 (got {inflate})")
    rng = np.random.default_rng(seed)
    limit = inflate * capacity_milli
    if not any(p.gpu_request_milli for p in pods):
        raise ValueError("no pod requests a GPU: the workload would never end")
    out: list[Pod] = []
    total = 0
    stream = (pods[int(i)] for i in rng.permutation(len(pods)))
    while True:
        for pod in stream:
            if total + pod.gpu_request_milli > limit:
                return out
            total += pod.gpu_request_milli
            out.append(pod)
        stream = (pods[int(i)] for i in rng.integers(0, len(pods), size=1024))


def target_of(pods: Sequence[Pod]) -> TargetWorkload:
    """FGD's typical tasks: shapes of the (original) pod list covering 95% of its pods, each
    with its pods' mean memory (FGD's score ignores it)."""
    shapes = [Shape.of(p.demand, p.gpu_spec) for p in pods]
    count: Counter[Shape] = Counter(shapes)
    memory: defaultdict[Shape, float] = defaultdict(float)
    for shape, pod in zip(shapes, pods, strict=True):
        memory[shape] += pod.memory_mib / count[shape]
    return TargetWorkload.from_counts(count, memory=memory)
