"""Workload variants of the openb pod list, following the FGD paper's method (ATC'23, §6).

The paper measures every policy on a family of workloads made from the default pod list by
resampling it so that one kind of pod takes a chosen share. We do the same, seeded:

- `sharing`: GPU-sharing pods' GPU request / all GPU request (copies appended);
- `multigpu`: multi-GPU pods' GPU request / all GPU request (copies appended);
- `gpuspec`: GPU pods with a GPU-type constraint / GPU pods (constraints given to randomly
  chosen unconstrained GPU pods);
- `cpuonly`: CPU-only pods / all pods (copies appended).

The shared `openb_pod_list_multigpu50.csv` is the default list plus 909 multi-GPU pods, which
puts 50.3% of the GPU request on multi-GPU pods: the `multigpu` rule. In
`openb_pod_list_gpuspec33.csv` 33.8% of the GPU pods name acceptable types: the `gpuspec` rule.
A constrained pod takes the constraint of a pod drawn from `spec_mix` (e.g. the shared
gpuspec33 list's constraints: the paper's mix, mostly T4 and G2, 16% naming several types)
among those that some node could satisfy; without a mix it accepts one type, drawn in
proportion to the cluster's GPUs of the types whose nodes could hold it.
Copies are drawn uniformly with replacement, the chosen kind when its share is below the
target and the other pods (of the same measure) when above, until the share reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from silkroute.model.workload import MILLI
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.openb import Pod

KINDS = ("sharing", "multigpu", "gpuspec", "cpuonly")
_NAME = re.compile(r"^(sharing|multigpu|gpuspec|cpuonly)(\d+(?:\.\d+)?)$")


def is_sharing(pod: Pod) -> bool:
    return pod.num_gpu == 1 and pod.gpu_milli < MILLI


def is_multigpu(pod: Pod) -> bool:
    return pod.num_gpu > 1


def is_cpuonly(pod: Pod) -> bool:
    return pod.num_gpu == 0


def is_constrained(pod: Pod) -> bool:
    return pod.num_gpu > 0 and pod.gpu_spec is not None


@dataclass(frozen=True, slots=True)
class Variant:
    kind: str
    percent: float

    @property
    def name(self) -> str:
        return f"{self.kind}{self.percent:g}"

    @staticmethod
    def parse(text: str) -> Variant:
        """`sharing60`, `multigpu30`, `gpuspec33`, `cpuonly20` ..."""
        match = _NAME.match(text.strip())
        if not match:
            raise ValueError(
                f"bad variant {text!r}: use KIND PERCENT with KIND one of {', '.join(KINDS)} "
                "(e.g. sharing60)"
            )
        percent = float(match.group(2))
        if not 0 < percent < 100:
            raise ValueError(f"bad variant {text!r}: the percentage must be in (0, 100)")
        return Variant(match.group(1), percent)


def share(pods: Sequence[Pod], kind: str) -> float:
    """The measured share (0..1) of `kind` in a pod list, as the table above defines it."""
    if kind == "gpuspec":
        gpu = [p for p in pods if p.num_gpu > 0]
        return sum(map(is_constrained, gpu)) / max(len(gpu), 1)
    member, weight = _measure(kind)
    total = sum(weight(p) for p in pods)
    return sum(weight(p) for p in pods if member(p)) / max(total, 1)


def _measure(kind: str) -> tuple[Callable[[Pod], bool], Callable[[Pod], int]]:
    if kind == "sharing":
        return is_sharing, lambda p: p.gpu_request_milli
    if kind == "multigpu":
        return is_multigpu, lambda p: p.gpu_request_milli
    if kind == "cpuonly":
        return is_cpuonly, lambda p: 1
    raise ValueError(f"unknown variant kind {kind!r}; valid: {', '.join(KINDS)}")


def make_variant(
    pods: Sequence[Pod],
    variant: Variant,
    seed: int,
    nodes: Sequence[NodeInfo],
    spec_mix: Sequence[tuple[str, ...]] = (),
) -> list[Pod]:
    """The pod list resampled so that `variant.kind` takes `variant.percent` (seeded)."""
    if not pods:
        raise ValueError("the pod list is empty")
    rng = np.random.default_rng(seed)
    target = variant.percent / 100
    if variant.kind == "gpuspec":
        return _constrain(list(pods), target, rng, nodes, spec_mix)
    member, weight = _measure(variant.kind)
    inside = [p for p in pods if member(p) and weight(p) > 0]
    outside = [p for p in pods if not member(p) and weight(p) > 0]
    part = sum(weight(p) for p in inside)
    total = part + sum(weight(p) for p in outside)
    out = list(pods)
    grow = part < target * total
    source = inside if grow else outside
    if not source:
        raise ValueError(f"{variant.name}: the pod list has no pod to resample from")
    added = 0
    # Draw in blocks (cheap) and stop at the first copy that reaches the target share.
    while (part < target * total) if grow else (part > target * total):
        for i in rng.integers(0, len(source), size=256):
            pod = source[int(i)]
            w = weight(pod)
            part, total = (part + w, total + w) if grow else (part, total + w)
            added += 1
            out.append(replace(pod, name=f"{pod.name}-{variant.name}-{added}"))
            if (part >= target * total) if grow else (part <= target * total):
                break
    return out


def _constrain(
    pods: list[Pod],
    target: float,
    rng: np.random.Generator,
    nodes: Sequence[NodeInfo],
    spec_mix: Sequence[tuple[str, ...]],
) -> list[Pod]:
    gpu = [i for i, p in enumerate(pods) if p.num_gpu > 0]
    have = [i for i in gpu if pods[i].gpu_spec is not None]
    free = np.array([i for i in gpu if pods[i].gpu_spec is None], dtype=np.int64)
    want = round(target * len(gpu)) - len(have)
    if want <= 0:
        return pods
    capacity = _type_capacity(nodes)
    shapes = {(n.accelerator, n.accelerators, n.cpu_milli, n.mem_mib) for n in nodes}
    for i in rng.permutation(free)[:want]:
        pod = pods[int(i)]
        if spec_mix:
            fits = [s for s in spec_mix if any(_may_hold(shapes, t, pod) for t in s)]
            if fits:
                pods[int(i)] = replace(pod, gpu_spec=fits[int(rng.integers(0, len(fits)))])
            continue
        types = [t for t in capacity if _may_hold(shapes, t, pod)]
        if not types:
            continue
        weights = np.array([capacity[t] for t in types], dtype=np.float64)
        chosen = types[int(rng.choice(len(types), p=weights / weights.sum()))]
        pods[int(i)] = replace(pod, gpu_spec=(chosen,))
    return pods


def spec_mix_of(pods: Sequence[Pod]) -> list[tuple[str, ...]]:
    """The GPU-type constraints of a pod list, one entry per constrained GPU pod."""
    return [p.gpu_spec for p in pods if p.num_gpu > 0 and p.gpu_spec is not None]


def _type_capacity(nodes: Sequence[NodeInfo]) -> Mapping[str, int]:
    capacity: dict[str, int] = {}
    for n in nodes:
        if n.accelerator and n.accelerators:
            capacity[n.accelerator] = capacity.get(n.accelerator, 0) + n.accelerators
    return dict(sorted(capacity.items()))


def _may_hold(shapes: set[tuple[str | None, int, int, int]], accel: str, pod: Pod) -> bool:
    """Could some node of type `accel` (node shapes: type, GPUs, CPU, memory) hold the pod?"""
    return any(
        t == accel and gpus >= pod.num_gpu and cpu >= pod.cpu_milli and mem >= pod.memory_mib
        for t, gpus, cpu, mem in shapes
    )
