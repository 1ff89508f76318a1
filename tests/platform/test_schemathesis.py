"""Property-based requests from the OpenAPI spec (schemathesis): the server never answers 5xx.

The live loop is not started here: generated jobs are stored and scheduled-for, never run
(fuzzed strings are not commands to execute on this machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from silkroute.api.app import create_app
from silkroute.control.boot import init_admin, open_platform
from tests.platform.conftest import DEMO_SITES

pytestmark = pytest.mark.slow
ADMIN: dict[str, str] = {}


@pytest.fixture
def api_schema(tmp_path: Path, db_url: str | None) -> Iterator[schemathesis.BaseSchema]:
    platform = open_platform(tmp_path / "data", db_url)
    token = init_admin(platform)
    assert token is not None
    ADMIN["Authorization"] = f"Bearer {token}"
    app = create_app(platform, run_loop=False)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        for site in DEMO_SITES:
            client.post("/v1/sites", json=site, headers=ADMIN)
        client.post("/v1/tenants", json={"name": "fuzz", "country": "SG"}, headers=ADMIN)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    platform.store.close()


def test_no_request_makes_the_server_fail(api_schema: schemathesis.BaseSchema) -> None:
    # Driven by hand (one hypothesis run per operation), not by schemathesis' pytest plugin.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples every run
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=dict(ADMIN), checks=[not_a_server_error])

        check()
