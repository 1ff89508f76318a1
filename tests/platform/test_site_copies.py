"""The site view (`GET /v1/sites`, `GET /v1/sites/{site}`, `silkroute site list|show`) answers
"what data sits at this site" from the same reader as `GET /v1/datasets` (control/copies.py):
a copy recorded only by a dataset's registration shows there too, each copy says which record
holds it, retired datasets show nowhere, and a tenant sees only its own datasets. A site's
stored declaration is what its own PATCH set, never the union. Real server, store (SQLite and
PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from silkroute.store.models import SiteRow
from tests.platform.conftest import Api
from tests.platform.test_cli import cli
from tests.platform.test_dataset_copies import SG_NEWS, register
from tests.platform.test_site_update import patch, site


def sites_seen(api: Api, token: str) -> dict[str, dict[str, Any]]:
    got = api.client.get("/v1/sites", headers=api.as_(token))
    assert got.status_code == 200, got.text
    return {s["name"]: s for s in got.json()}


def one_site(api: Api, token: str, name: str) -> dict[str, Any]:
    got = api.client.get(f"/v1/sites/{name}", headers=api.as_(token))
    assert got.status_code == 200, got.text
    found: dict[str, Any] = got.json()
    return found


def copies_by_site(api: Api, token: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Site -> (dataset, records) as the site view shows them; the list and each site's own
    answer must agree."""
    listed = sites_seen(api, token)
    out = {}
    for name, view in listed.items():
        assert one_site(api, token, name) == view
        assert view["datasets"] == [c["dataset"] for c in view["copies"]]
        out[name] = [(c["dataset"], tuple(c["recorded_by"])) for c in view["copies"]]
    return out


def copies_by_dataset(api: Api, token: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """The same copies as `GET /v1/datasets` shows them, turned to site -> (dataset, records)."""
    got = api.client.get("/v1/datasets", headers=api.as_(token))
    assert got.status_code == 200, got.text
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for dataset in got.json():
        for c in dataset["copies"]:
            out.setdefault(c["site"], []).append((dataset["name"], tuple(c["recorded_by"])))
    return {name: sorted(held) for name, held in out.items()}


def test_a_copy_only_a_registration_records_shows_at_its_site_and_both_views_agree(
    api: Api,
) -> None:
    api.add_sites([site("alpha", 1.0, datasets=["sg-news"]), site("beta", 1.0)])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha", "beta"]})
    register(api, token, {**SG_NEWS, "name": "sg-web", "sites": ["beta"]})
    expected = {
        "alpha": [("sg-news", ("site", "dataset"))],
        "beta": [("sg-news", ("dataset",)), ("sg-web", ("dataset",))],
    }
    for who in (token, api.admin):
        assert copies_by_site(api, who) == expected
        assert copies_by_dataset(api, who) == expected
    # The declarations are as the sites' own records hold them, not the union.
    assert {n: s["spec"]["datasets"] for n, s in sites_seen(api, token).items()} == {
        "alpha": ["sg-news"],
        "beta": [],
    }


def test_a_site_patch_stores_only_the_declaration_and_answers_with_every_copy(
    api: Api,
) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha"]})
    got = patch(api, "alpha", {"datasets": ["local-only"]})
    assert got.status_code == 200, got.text
    assert got.json()["spec"]["datasets"] == ["local-only"]
    assert got.json()["copies"] == [
        {"dataset": "local-only", "recorded_by": ["site"]},
        {"dataset": "sg-news", "recorded_by": ["dataset"]},
    ]
    # Another setting changed: the stored declaration still lists only what the site said.
    assert patch(api, "alpha", {"operator": "NSCC"}).status_code == 200
    with api.platform.store.session() as session:
        row = session.get(SiteRow, "alpha")
        assert row is not None and row.spec["datasets"] == ["local-only"]


def test_a_retired_dataset_shows_as_a_copy_at_no_site(api: Api) -> None:
    api.add_sites([site("alpha", 1.0, datasets=["sg-news"]), site("beta", 1.0)])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["beta"]})
    got = api.client.delete("/v1/datasets/sg-news", headers=api.as_(token))
    assert got.status_code == 200, got.text
    for who in (token, api.admin):
        assert copies_by_site(api, who) == {"alpha": [], "beta": []}
    # The site's declaration of it stays as the site wrote it (staff see it).
    assert one_site(api, api.admin, "alpha")["spec"]["datasets"] == ["sg-news"]


def test_a_tenant_sees_only_its_own_datasets_at_a_site(api: Api) -> None:
    api.add_sites([site("alpha", 1.0, datasets=["acme-declared", "open-crawl"])])
    acme, other = api.tenant("acme"), api.tenant("other")
    register(api, acme, {**SG_NEWS, "name": "acme-declared"})
    register(api, acme, {**SG_NEWS, "name": "acme-listed", "sites": ["alpha"]})
    register(api, other, {**SG_NEWS, "name": "other-listed", "sites": ["alpha"]})
    views = [
        (
            api.admin,
            ["acme-declared", "open-crawl"],
            [
                ("acme-declared", ("site",)),
                ("acme-listed", ("dataset",)),
                ("open-crawl", ("site",)),
                ("other-listed", ("dataset",)),
            ],
        ),
        (
            acme,
            ["acme-declared", "open-crawl"],
            [("acme-declared", ("site",)), ("acme-listed", ("dataset",))],
        ),
        # Neither acme's names nor a sign of them; a declared name nobody registered stays
        # in the declaration (it is the operator's, and names no tenant's data).
        (other, ["open-crawl"], [("other-listed", ("dataset",))]),
    ]
    for token, declared, held in views:
        view = one_site(api, token, "alpha")
        assert view["spec"]["datasets"] == declared, token
        assert copies_by_site(api, token) == {"alpha": held}, token
    assert api.client.get("/v1/sites/mars", headers=api.as_(acme)).status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_lists_each_sites_copies(api: Api, server_url: str) -> None:
    api.add_sites([site("alpha", 1.0, datasets=["sg-news"]), site("beta", 1.0)])
    acme, other = api.tenant("acme"), api.tenant("other")
    register(api, acme, {**SG_NEWS, "sites": ["alpha", "beta"]})
    shown = [
        (acme, "site", "list", {"alpha": "sg-news (site+dataset)", "beta": "sg-news (dataset)"}),
        (other, "site", "list", {"alpha": "-", "beta": "-"}),
    ]
    for token, *args, rows in shown:
        code, out = cli(server_url, token, *args)
        assert code == 0, out
        cells = {
            cols[0]: cols[-1]
            for line in out.splitlines()
            if (cols := [c.strip() for c in line.strip("│ ").split("│")])[0] in rows
        }
        assert cells == rows, out
    code, out = cli(server_url, api.admin, "site", "show", "beta")
    assert code == 0 and "datasets: sg-news (dataset)" in out, out
