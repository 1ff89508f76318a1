"""A job whose site's agent went silent keeps counting toward its tenant's running cap until
its run is written off (lease, grace and margin since the agent was last heard): the run
may still be running out there. A guard of the live loop's behaviour beside the fenced case
(tests/platform/test_stopping_counts.py): here the job keeps its place in the book."""

from __future__ import annotations

import time

from tests.agent.test_agent_api import B, agent_token, heartbeat, report, wait_assigned, wait_site
from tests.platform.conftest import Api


def test_a_capped_tenants_next_job_waits_until_the_silent_sites_run_is_written_off(
    api: Api,
) -> None:
    loop = api.platform.loop
    loop.agent_timeout_s, loop.agent_lease_s, loop.grace_s = 1.0, 2.0, 1.0
    api.add_sites()
    token_b = agent_token(api, B)
    heartbeat(api, token_b)
    tenant = api.tenant("acme", max_running_jobs=1)
    first = api.submit(tenant, sites=[B], accelerators_per_worker=1, command="true")
    first_id = first.json()["id"]
    run = wait_assigned(api, token_b)
    assert report(api, token_b, run["run_id"], state="running", started_at=time.time()).is_success
    api.wait_for(tenant, first_id, ("running",))
    # Another site (embedded agent) has room for the second job; the cap holds it.
    second_id = api.submit(tenant, name="second", command="true").json()["id"]
    wait_site(api, B, "down")  # no heartbeat from here on
    assert api.job(tenant, first_id)["hold_reason"] == "site-down"
    while True:
        # The second job is read before the first: if the first's run is still not written
        # off at the later read, it was not at the earlier one, so the second had to wait
        # (read the other way round, a write-off and the second's start could both fall
        # between the reads).
        second = api.job(tenant, second_id)
        if api.job(tenant, first_id)["state"] == "pending":
            break
        assert second["state"] == "pending" and not second["runs"], second
        assert second["hold_reason"] == "max-running-jobs", second
        time.sleep(0.05)
    lost = api.job(tenant, first_id)["runs"][0]
    assert lost["outcome"] == "lost"
    done = api.wait_for(tenant, second_id, ("succeeded", "failed"))
    assert done["state"] == "succeeded", done
    assert done["runs"][0]["started_at"] >= lost["ended_at"]
