"""A boolean is not a number: every spec refuses `true`/`false` where it wants a number,
naming the field (pydantic's lax mode read them as 1 and 0)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from silkroute.api.schemas import TenantCreate, TenantUpdate
from silkroute.model.cluster import NodeGroupSpec, SiteSpec
from silkroute.model.errors import SpecError
from silkroute.model.job import JobSpec, TraceJobSpec, load_jobs
from silkroute.model.tenant import TenantSpec

MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    JobSpec: {"name": "j", "tenant": "t"},
    TraceJobSpec: {"name": "j", "tenant": "t", "submit_time_s": 0, "duration_s": 1},
    TenantSpec: {"name": "t"},
    TenantCreate: {"name": "t"},
    TenantUpdate: {},
    SiteSpec: {"name": "s", "country": "SG", "nodes": [{"count": 1}]},
    NodeGroupSpec: {"count": 1},
}


def _number_fields(model: type[BaseModel]) -> list[str]:
    """Fields that take a number (`int`, `float`, or a union holding one) and no boolean:
    read from the model, so a numeric field added later is covered here too."""
    found = []
    for name, field in model.model_fields.items():
        union = get_origin(field.annotation) in (Union, UnionType)
        members = set(get_args(field.annotation)) if union else {field.annotation}
        members = {get_args(m)[0] if get_origin(m) is Annotated else m for m in members}
        if members & {int, float} and bool not in members:
            found.append(name)
    return found


CASES = [(model, name) for model in MINIMAL for name in _number_fields(model)]


def test_every_spec_has_number_fields_to_check() -> None:
    covered = {model for model, _ in CASES}
    assert covered == set(MINIMAL) - {SiteSpec}  # its numbers are in mappings and nodes
    assert {"workers", "priority", "time_limit_s", "replicas"} <= set(_number_fields(JobSpec))


@pytest.mark.parametrize("boolean", [True, False])
@pytest.mark.parametrize(("model", "field"), CASES, ids=[f"{m.__name__}.{f}" for m, f in CASES])
def test_a_boolean_where_a_number_is_meant_is_refused_naming_the_field(
    model: type[BaseModel], field: str, boolean: bool
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**MINIMAL[model], field: boolean})
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert errors[0]["msg"] == "must be a number, not a boolean (true/false)"


@dataclass(frozen=True)
class Nested:
    name: str
    model: type[BaseModel]
    body: dict[str, Any]
    loc: tuple[str | int, ...] | None  # None: accepted


NESTED = [
    Nested("a quota's amount", TenantSpec, {"name": "t", "quota": {"H100": True}},
           ("quota", "H100")),
    Nested("a relative throughput", JobSpec,
           {"name": "j", "tenant": "t", "accelerator_types": {"H100": True}},
           ("accelerator_types", "H100")),
    Nested("a latency SLO", JobSpec,
           {"name": "j", "tenant": "t", "kind": "inference", "latency_slo_ms": {"SG": False}},
           ("latency_slo_ms", "SG")),
    Nested("a node group's count", SiteSpec,
           {"name": "s", "country": "SG", "nodes": [{"count": True}]}, ("nodes", 0, "count")),
    Nested("a price", SiteSpec,
           {"name": "s", "country": "SG", "nodes": [{"count": 1}],
            "price_per_accelerator_hour": {"H100": True}},
           ("price_per_accelerator_hour", "H100")),
    Nested("a per-type duration", TraceJobSpec,
           {"name": "j", "tenant": "t", "submit_time_s": 0, "duration_s": {"H100": True}},
           ("duration_s", "H100")),
    Nested("a boolean field keeps its booleans", JobSpec,
           {"name": "j", "tenant": "t", "preemptible": True}, None),
    Nested("a PATCH's boolean field keeps its booleans", TenantUpdate,
           {"pay_as_you_go": False}, None),
    Nested("ciio is a boolean", TenantCreate, {"name": "t", "ciio": True}, None),
    Nested("whole floats still count as integers", JobSpec,
           {"name": "j", "tenant": "t", "workers": 2.0}, None),
    Nested("a string in a command is not a number's business", JobSpec,
           {"name": "j", "tenant": "t", "command": ["echo", "true"]}, None),
]  # fmt: skip


@pytest.mark.parametrize("case", NESTED, ids=lambda c: c.name)
def test_booleans_inside_mappings_and_lists(case: Nested) -> None:
    if case.loc is None:
        case.model.model_validate(case.body)
        return
    with pytest.raises(ValidationError) as caught:
        case.model.model_validate(case.body)
    assert [e["loc"] for e in caught.value.errors()] == [case.loc]


def test_a_job_file_names_the_line_of_a_yaml_boolean(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        "jobs:\n  - {name: a, tenant: t}\n  - name: b\n    tenant: t\n    workers: yes\n"
    )
    with pytest.raises(SpecError) as caught:
        load_jobs(path)
    assert str(caught.value) == (
        f"{path}:5: jobs[1].workers: must be a number, not a boolean (true/false) (got True)"
    )
