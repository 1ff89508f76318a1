"""Property: whatever the policy, fractional shares never over-allocate an accelerator."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from silkroute.scheduler.fragmentation import FragCache, node_fragmentation
from silkroute.scheduler.sites import SiteCatalog
from silkroute.sim.openb import Pod
from silkroute.sim.packing.driver import pod_job
from silkroute.sim.packing.policies import PACKING_POLICIES, packing_policy
from silkroute.sim.packing.workload import target_of
from tests.packing.helpers import cluster, node

nodes_st = st.lists(
    st.tuples(st.sampled_from([1, 2, 4, 8]), st.integers(4, 64), st.sampled_from(["T4", "A10"])),
    min_size=1,
    max_size=5,
)
share_st = st.sampled_from([100, 250, 300, 333, 500, 700, 1000])
pod_st = st.one_of(
    st.tuples(st.just(1), share_st, st.integers(0, 16)),  # shared or one whole GPU
    st.tuples(st.sampled_from([0, 2, 4, 8]), st.just(1000), st.integers(0, 32)),
)


def as_pod(i: int, gpus: int, milli: int, cores: int, spec: str | None) -> Pod:
    return Pod(
        f"p{i}",
        cores * 1000,
        1024,
        gpus,
        milli if gpus else 0,
        (spec,) if spec and gpus else None,
        "BE",
        None,
        None,
        None,
    )


@settings(max_examples=40, deadline=None)
@given(
    nodes=nodes_st,
    stream=st.lists(
        st.tuples(pod_st, st.sampled_from([None, "T4", "A10"])), min_size=1, max_size=40
    ),
    policy=st.sampled_from(sorted(PACKING_POLICIES)),
)
def test_no_over_allocation(
    nodes: list[tuple[int, int, str]],
    stream: list[tuple[tuple[int, int, int], str | None]],
    policy: str,
) -> None:
    state = cluster(*(node(f"n{i}", g, c * 1000, a) for i, (g, c, a) in enumerate(nodes)))
    pods = [as_pod(i, g, m, c, spec) for i, ((g, m, c), spec) in enumerate(stream)]
    target = target_of(pods)
    placement = packing_policy(policy, target, seed=7)
    frag = FragCache(state, target)
    placed = 0
    for i, pod in enumerate(pods):
        pools = state.pools_for(pod.gpu_spec, None, needs_accelerator=pod.num_gpu > 0)
        alloc = placement.place(pod_job(i, pod), state, SiteCatalog([]), pools)
        if alloc is not None:
            node_index, slots = alloc.workers[0]
            assert len(set(slots)) == len(slots) == pod.num_gpu
            assert all(state.gpu_free[node_index, s] >= pod.demand.gpu_milli for s in slots)
            if pod.gpu_spec:
                assert state.node_type[node_index] in pod.gpu_spec
            state.apply(alloc)  # raises on over-allocation
            placed += pod.gpu_request_milli
        state.check_invariants()
        # The incremental fragmentation stays equal to a from-scratch computation.
        assert abs(frag.total() - node_fragmentation(state, target).sum()) < 1e-6
    assert state.allocated_milli == placed
    assert (state.gpu_free >= 0).all() and (state.gpu_free <= state.gpu_cap).all()
