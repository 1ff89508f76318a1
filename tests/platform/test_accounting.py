"""Accounting through the API: vouchers are drawn down before paid hours; budgets refuse work."""

from __future__ import annotations

import pytest

from tests.platform.conftest import Api

H100_PRICE = 3.20  # demo site singapore


def usage_of(api: Api, token: str) -> dict:  # type: ignore[type-arg]
    got = api.client.get("/v1/usage", headers=api.as_(token))
    assert got.status_code == 200, got.text
    return got.json()  # type: ignore[no-any-return]


def test_voucher_hours_are_used_before_paid_hours(api: Api) -> None:
    api.add_sites()
    voucher = 0.001  # 3.6 accelerator-seconds
    token = api.tenant("incubatee", voucher_accelerator_hours=voucher)
    first = api.submit(
        token, command="sleep 1", accelerator_types=["H100"], accelerators_per_worker=4
    ).json()["id"]
    api.wait_for(token, first, ("succeeded",))
    usage = usage_of(api, token)
    [row] = usage["rows"]
    hours = row["accelerator_hours"]
    assert hours > voucher  # 4 accelerators for about a second is more than the voucher
    assert row["voucher_hours"] == pytest.approx(voucher)
    assert row["paid_hours"] == pytest.approx(hours - voucher)
    assert row["cost"] == pytest.approx((hours - voucher) * H100_PRICE)
    [balance] = usage["tenants"]
    assert balance["voucher_hours_left"] == pytest.approx(0.0)
    # The voucher is spent: the next job is paid in full.
    second = api.submit(token, command="sleep 0.3", accelerator_types=["H100"]).json()["id"]
    api.wait_for(token, second, ("succeeded",))
    usage = usage_of(api, token)
    assert usage["tenants"][0]["voucher_hours"] == pytest.approx(voucher)
    assert usage["jobs"][str(second)] > 0
    total = usage["tenants"][0]
    assert total["paid_hours"] == pytest.approx(total["accelerator_hours"] - voucher)


def test_an_exhausted_monthly_budget_refuses_new_jobs_with_the_reason(api: Api) -> None:
    api.add_sites()
    token = api.tenant("small", monthly_budget=0.001)
    # 8 H100 for about a second cost about 0.007: more than the whole budget.
    job = api.submit(
        token, command="sleep 1", accelerator_types=["H100"], accelerators_per_worker=8
    ).json()["id"]
    api.wait_for(token, job, ("succeeded",))
    refused = api.submit(token, command="true")
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["code"] == "budget_exhausted"
    # The budget as set (it read "0.00"), and what lifts the refusal: the month's end (no
    # request changes a budget yet; it said "until the budget is raised").
    assert "monthly budget of 0.001 " in body["message"] and "small" in body["message"]
    assert body["message"].endswith("until the month ends")
    balance = usage_of(api, token)["tenants"][0]
    assert balance["month_spend"] >= balance["monthly_budget"]


def test_cpu_only_jobs_cost_nothing(api: Api) -> None:
    api.add_sites()
    token = api.tenant("cpu", monthly_budget=0.0000001)
    job = api.submit(token, command="true", accelerators_per_worker=0).json()["id"]
    api.wait_for(token, job, ("succeeded",))
    usage = usage_of(api, token)
    assert usage["tenants"][0]["cost"] == 0.0
    assert api.submit(token, command="true", accelerators_per_worker=0).status_code == 201
