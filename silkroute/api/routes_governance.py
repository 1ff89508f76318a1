"""Data governance routes: datasets, compliance records, and why a job may (not) run where."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from silkroute.api.routes import ERRORS, Caller, PlatformDep, _check_id
from silkroute.control import governance

router = APIRouter()
Object = Annotated[dict[str, Any], Body()]


@router.post("/v1/datasets", status_code=201, responses=ERRORS)
def add_dataset(body: Object, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """Register a dataset: name, owner (default: the token's tenant), origin, data_class,
    subjects, sites holding a copy, size_bytes, licence, tags."""
    return governance.register_dataset(platform, who, body)


@router.get("/v1/datasets", responses=ERRORS)
def list_datasets(
    platform: PlatformDep, who: Caller, owner: str | None = None, include_retired: bool = False
) -> list[dict[str, Any]]:
    """Datasets you may see; retired ones only with `include_retired=true`."""
    return governance.datasets(platform, who, owner, include_retired)


@router.get("/v1/datasets/{name}", responses=ERRORS)
def get_dataset(name: str, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    return governance.dataset(platform, who, name)


@router.patch("/v1/datasets/{name}", responses=ERRORS)
def update_dataset(name: str, body: Object, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """Replace `sites`, the sites this registration lists as holding a copy (its owner or
    staff; audited). Sites that declare the dataset themselves still count as copies."""
    return governance.update_dataset(platform, who, name, body)


@router.delete("/v1/datasets/{name}", responses=ERRORS)
def retire_dataset(name: str, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """Retire the dataset (its owner or staff; audited): the record stays readable, new jobs
    may not read it, its copies stop drawing work. 409 while a job reading it has not ended.
    `POST /v1/datasets/{name}/restore` brings it back."""
    return governance.retire_dataset(platform, who, name)


@router.post("/v1/datasets/{name}/restore", responses=ERRORS)
def restore_dataset(name: str, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """Bring a retired dataset back (its owner or staff; audited): new jobs may read it
    again, its copies draw work again. 409 where it is not retired."""
    return governance.restore_dataset(platform, who, name)


@router.post("/v1/compliance", status_code=201, responses=ERRORS)
def add_compliance(body: Object, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """Record a transfer mechanism a tenant holds: mechanism, origin, destinations,
    counterparty (with whom), reference, valid_from, valid_until (last valid day)."""
    return governance.record_grant(platform, who, body)


@router.get("/v1/compliance", responses=ERRORS)
def list_compliance(
    platform: PlatformDep, who: Caller, tenant: str | None = None
) -> list[dict[str, Any]]:
    return governance.grants(platform, who, tenant)


@router.get("/v1/jobs/{job_id}/explain", responses=ERRORS)
def explain_job(job_id: int, platform: PlatformDep, who: Caller) -> dict[str, Any]:
    """Per site: allow or deny, each refusal's dataset, rule, legal basis and unblock."""
    _check_id(job_id)
    return governance.explain_job(platform, who, job_id)
