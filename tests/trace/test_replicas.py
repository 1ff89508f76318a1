"""Inference replicas become independent jobs, each placed on its own."""

from __future__ import annotations

import json
from pathlib import Path

from silkroute.model.cluster import ClusterSpec
from silkroute.sim.neutral import load_neutral_trace

CLUSTER = ClusterSpec.model_validate(
    {
        "sites": [
            {
                "name": "sg",
                "country": "SG",
                "nodes": [{"count": 2, "accelerator": "H100", "accelerators": 8}],
            }
        ]
    }
)


def test_replicas_expand_into_named_jobs(tmp_path: Path) -> None:
    line = {
        "name": "chat",
        "kind": "inference",
        "tenant": "t",
        "replicas": 3,
        "accelerators_per_worker": 1,
        "latency_slo_ms": {"SG": 20},
        "submit_time_s": 5,
        "duration_s": 60,
    }
    train = {"name": "pretrain", "tenant": "t", "submit_time_s": 0, "duration_s": 10}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(train) + "\n" + json.dumps(line) + "\n")
    jobs = load_neutral_trace(path, CLUSTER)
    assert [j.name for j in jobs] == [
        "pretrain",
        "chat/replica-0",
        "chat/replica-1",
        "chat/replica-2",
    ]
    assert [j.id for j in jobs] == [0, 1, 2, 3]
    assert all(j.latency_slo_ms == {"SG": 20} and j.submit_time == 5 for j in jobs[1:])
