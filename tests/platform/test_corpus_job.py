"""A corpus run submitted to the platform as a batch job (examples/corpus/job.yaml): the real
server, scheduler loop and local back end run `silkroute corpus run` on the shipped sample."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from silkroute.corpus.io.writers import iter_shard_docs
from tests.platform.conftest import Api

JOB_FILE = Path(__file__).resolve().parents[2] / "examples" / "corpus" / "job.yaml"


@pytest.mark.parametrize("db_url", [None])  # the embedded store is enough: this is about the job
def test_the_example_corpus_job_runs_on_the_platform_and_writes_shards_and_stats(
    api: Api,
) -> None:
    api.add_sites()
    token = api.tenant("corpus-team")
    spec = yaml.safe_load(JOB_FILE.read_text(encoding="utf-8"))
    got = api.submit(token, **spec)
    assert got.status_code == 201, got.text
    job_id = got.json()["id"]
    job = api.wait_for(token, job_id, ("succeeded", "failed", "cancelled"), timeout=240.0)
    logs, errors = (
        api.client.get(
            f"/v1/jobs/{job_id}/logs", params={"stream": stream}, headers=api.as_(token)
        ).json()["text"]
        for stream in ("stdout", "stderr")
    )
    assert job["state"] == "succeeded", errors
    found = re.search(r"(\d+) documents -> (\S+)", " ".join(errors.split()))
    assert found is not None, errors
    out = Path(found.group(2))
    assert out.is_relative_to(api.data_dir.resolve())  # inside the job's checkpoint folder
    manifest = json.loads((out / "manifest.json").read_text())
    shards = sorted((out / "data").glob("shard-*.parquet"))
    assert shards and len(manifest["shards"]) == len(shards)
    docs = {doc.id: doc for shard in shards for doc in iter_shard_docs(shard)}
    assert len(docs) == int(found.group(1)) == sum(s["documents"] for s in manifest["shards"])
    assert {"th-1", "vi-1", "fil-1", "id-1"} <= set(docs) and "junk-1" not in docs
    stats = json.loads((out / "stats.json").read_text())
    assert stats["stages"], stats
    assert "exact_dedup" in logs  # `corpus stats` printed its table into the job's log
