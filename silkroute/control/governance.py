"""Data governance on the platform: the dataset registry, tenants' transfer mechanisms, and
the `Governance` the live loop and submit checks build from them.

The policy objects (`Dataset`, `Grant`, `TenantCompliance`, `Governance`) live in
`silkroute.policy`; this module only reads and writes their rows and enforces who may see
what: a tenant sees and uses only its own datasets and grants; another tenant's answers "not
found", exactly like a missing one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from silkroute.control import copies
from silkroute.control.auth import Principal, Role
from silkroute.control.errors import (
    BODY,
    FieldProblem,
    ServiceError,
    conflict,
    forbidden,
    invalid,
    invalid_fields,
    message_of,
    not_found,
    problems_of,
)
from silkroute.model.cluster import SiteSpec
from silkroute.model.job import JobSpec
from silkroute.policy.catalog import Dataset, DatasetCatalog, Export, Grant, TenantCompliance
from silkroute.policy.engine import RuleBook
from silkroute.policy.explain import audit_detail, explain, render
from silkroute.policy.governance import Governance, SiteDecision
from silkroute.policy.loader import load_rules
from silkroute.policy.operator import OperatorPolicies
from silkroute.policy.vocabulary import JURISDICTIONS, DataClass
from silkroute.store.audit import audited, record
from silkroute.store.models import (
    DatasetRow,
    GrantRow,
    JobDatasetRow,
    JobRow,
    SiteRow,
    TenantRow,
    TransferRow,
)

if TYPE_CHECKING:
    from silkroute.control.service import Platform

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
TEXT_LIMIT = 256
MAX_COUNT = 2**62  # BIGINT in the store

DATASET_FIELDS = tuple(f.name for f in dataclasses.fields(Dataset))
GRANT_FIELDS = tuple(f.name for f in dataclasses.fields(Grant))
_DATASET = TypeAdapter(Dataset)
_GRANT = TypeAdapter(Grant)


@functools.cache
def rule_book() -> RuleBook:
    """The shipped rule files, loaded once per process (a new version needs a restart)."""
    return load_rules()


def now() -> dt.datetime:
    """The instant the data law is read at (one place, so tests can move the calendar)."""
    return dt.datetime.now(dt.UTC)


# The UTC date and each jurisdiction's own date, sorted by jurisdiction.
Calendar = tuple[dt.date, tuple[tuple[str, dt.date], ...]]


def calendar(instant: dt.datetime) -> Calendar:
    """The UTC date and every jurisdiction's own date at `instant`: the data law is re-read
    when any moves."""
    return instant.date(), tuple(sorted(rule_book().local_days(instant).items()))


# ----- rows <-> policy objects -------------------------------------------------------------
def dataset_of(row: DatasetRow) -> Dataset:
    return _DATASET.validate_python(
        {
            "name": row.name,
            "owner": row.owner,
            "origin": row.origin,
            "data_class": row.data_class,
            "subjects": row.subjects,
            "sites": row.sites,
            "size_bytes": row.size_bytes,
            "licence": row.licence,
            "tags": row.tags,
        }
    )


def grant_of(row: GrantRow) -> Grant:
    return Grant(
        mechanism=_GRANT.validate_python({"mechanism": row.mechanism}).mechanism,
        origin=row.origin,
        destinations=None if row.destinations is None else frozenset(row.destinations),
        valid_from=dt.date.fromisoformat(row.valid_from) if row.valid_from else dt.date.min,
        valid_until=dt.date.fromisoformat(row.valid_until) if row.valid_until else None,
        reference=row.reference,
    )


def dataset_json(dataset: Dataset) -> dict[str, Any]:
    raw: dict[str, Any] = _DATASET.dump_python(dataset, mode="json")
    raw["sites"], raw["tags"] = sorted(dataset.sites), sorted(dataset.tags)
    return raw


def grant_json(row: GrantRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant,
        "mechanism": row.mechanism,
        "origin": row.origin,
        "destinations": row.destinations,
        "counterparty": row.counterparty,
        "reference": row.reference,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
    }


@functools.lru_cache(maxsize=8)
def _operator(text: str, sites: tuple[tuple[str, str], ...]) -> OperatorPolicies:
    return OperatorPolicies(text, dict(sites))


def load_governance(
    session: Session,
    on: dt.date | None = None,
    datasets: Iterable[str] | None = None,
    operator: str | None = None,
    instant: dt.datetime | None = None,
) -> Governance:
    """Rules, catalog, every tenant's compliance and the operator's Cedar policies (`operator`,
    their text) as the store holds them now.

    The law is read at `on` in every jurisdiction if given, else at `instant` (default: now)
    in each jurisdiction's own calendar; the loop passes the instant its `calendar` came from,
    so a pass that straddles a midnight reads one consistent set of dates.

    With `datasets`, only those datasets and their owners are read (a submit check needs
    nothing else: a site decision looks only at the job's own datasets).
    """
    query = select(DatasetRow)
    if datasets is not None:
        query = query.where(DatasetRow.name.in_(sorted(set(datasets))))
    found = [dataset_of(r) for r in session.scalars(query)]
    owners = {d.owner for d in found} if datasets is not None else None
    tenants = select(TenantRow.name, TenantRow.ciio)
    grants_query = select(GrantRow).order_by(GrantRow.id)
    if owners is not None:
        tenants = tenants.where(TenantRow.name.in_(sorted(owners)))
        grants_query = grants_query.where(GrantRow.tenant.in_(sorted(owners)))
    grants: dict[str, list[Grant]] = {}
    for row in session.scalars(grants_query):
        grants.setdefault(row.tenant, []).append(grant_of(row))
    if on is None:
        instant = now() if instant is None else instant
        day, local_days = instant.date(), rule_book().local_days(instant)
    else:
        day, local_days = on, {}  # a given date holds in every jurisdiction
    sent = yearly_exports(session, {o: d.year for o, d in local_days.items()}, day.year, owners)
    compliance = {
        name: TenantCompliance(
            name, tuple(grants.get(name, ())), bool(ciio), *sent.get(name, ({}, frozenset()))
        )
        for name, ciio in session.execute(tenants).all()
    }
    policies = None
    if operator is not None:
        policies = _operator(operator, tuple(sorted(site_countries(session).items())))
    return Governance(rule_book(), DatasetCatalog(found), day, compliance, policies, local_days)


# ----- the yearly count of data subjects sent abroad ---------------------------------------------
YearlyCount = tuple[dict[tuple[str, DataClass], int], frozenset[str]]


def yearly_exports(
    session: Session,
    years: Mapping[str, int],
    default_year: int,
    tenants: Iterable[str] | None = None,
) -> dict[str, YearlyCount]:
    """Per tenant: subjects sent abroad this year by (origin, data class), and the datasets
    counted (each once: the store keeps one row per tenant, dataset and year). "This year" is
    the origin's own (`years`, else `default_year`): a row's year was taken in its calendar."""
    wanted = {default_year, *years.values()}
    query = select(TransferRow).where(TransferRow.year.in_(sorted(wanted)))
    if tenants is not None:
        query = query.where(TransferRow.tenant.in_(sorted(set(tenants))))
    out: dict[str, YearlyCount] = {}
    for row in session.scalars(query.order_by(TransferRow.id)):
        if row.year != years.get(row.origin, default_year):
            continue
        totals, names = out.get(row.tenant, ({}, frozenset()))
        key = (row.origin, DataClass(row.data_class))
        totals[key] = totals.get(key, 0) + row.subjects
        out[row.tenant] = (totals, names | {row.dataset})
    return out


def record_exports(session: Session, exports: Iterable[Export]) -> list[dict[str, Any]]:
    """Store the datasets a start sent abroad for the first time this year (in the start's
    transaction); returns them as JSON for the placement's audit record."""
    out = []
    for export in exports:
        counted = session.scalar(
            select(TransferRow.id).where(
                TransferRow.tenant == export.tenant,
                TransferRow.dataset == export.dataset,
                TransferRow.year == export.year,
            )
        )
        if counted is not None:
            continue  # counted already (another server process, or a replayed start)
        session.add(
            TransferRow(
                tenant=export.tenant,
                dataset=export.dataset,
                origin=export.origin,
                data_class=export.data_class.value,
                subjects=export.subjects,
                year=export.year,
                destination=export.destination,
                site=export.site,
                job_id=export.job,
                at=time.time(),
            )
        )
        out.append(
            {
                "dataset": export.dataset,
                "origin": export.origin,
                "data_class": export.data_class.value,
                "subjects": export.subjects,
                "year": export.year,
                "destination": export.destination,
            }
        )
    if out:
        session.flush()
    return out


def yearly_count_json(compliance: TenantCompliance, governance: Governance) -> dict[str, Any]:
    """`year`: the UTC year; each origin's count runs in that origin's own year (`year` there)."""
    return {
        "year": governance.on.year,
        "subjects": [
            {
                "origin": origin,
                "data_class": data_class.value,
                "subjects": subjects,
                "year": governance.day_in(origin).year,
            }
            for (origin, data_class), subjects in sorted(compliance.exported.items())
        ],
        "datasets": sorted(compliance.exported_datasets),
    }


def yearly_count_lines(tenant: str, count: dict[str, Any]) -> list[str]:
    if not count["datasets"]:
        return [f"sent abroad by {tenant} in {count['year']}: nothing yet"]
    totals = ", ".join(
        f"{t['origin']} {t['data_class']} {t['subjects']:,} subjects"
        + ("" if t["year"] == count["year"] else f" (its {t['year']})")
        for t in count["subjects"]
    )
    names = ", ".join(count["datasets"])
    return [f"sent abroad by {tenant} in {count['year']} (since 1 January): {totals} ({names})"]


def site_countries(session: Session) -> dict[str, str]:
    return {
        name: country for name, country in session.execute(select(SiteRow.name, SiteRow.country))
    }


# ----- validation ------------------------------------------------------------------------------
def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(BODY, f"{what} is an object of fields")
    return body


def _unknown_fields(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise invalid(str(extra[0]), "unknown field; valid: " + ", ".join(sorted(allowed)))


def _problem(exc: ValidationError) -> ServiceError:
    return invalid_fields(problems_of(exc.errors())[:1])


def _text(value: Any, name: str | tuple[str | int, ...], limit: int = TEXT_LIMIT) -> None:
    if isinstance(value, str) and ("\x00" in value or len(value) > limit):
        raise invalid(name, f"at most {limit} characters, no NUL")


def _origin(value: str | None, name: str = "origin") -> None:
    if value is not None and value not in JURISDICTIONS:
        known = ", ".join(sorted(JURISDICTIONS))
        raise invalid(name, f"no rules for {value!r}; known origins: {known}")


def parse_dataset(body: Any, caller: Principal) -> Dataset:
    raw = dict(_object(body, "a dataset"))
    _unknown_fields(raw, DATASET_FIELDS)
    if raw.get("owner") is None and caller.tenant is not None:
        raw["owner"] = caller.tenant
    for key in ("name", "owner", "licence", "origin"):
        _text(raw.get(key), key)
    for key in ("sites", "tags"):
        if isinstance(raw.get(key), list):
            for i, item in enumerate(raw[key]):
                _text(item, (key, i), 128)
    try:
        dataset = _DATASET.validate_python(raw)
    except ValidationError as exc:
        raise _problem(exc) from None
    if not NAME.match(dataset.name):
        raise invalid("name", "letters, digits, '.', '_' or '-' (at most 128), starting alnum")
    _origin(dataset.origin)
    for key in ("subjects", "size_bytes"):
        if not 0 <= getattr(dataset, key) < MAX_COUNT:
            raise invalid(key, f"between 0 and {MAX_COUNT - 1}")
    return dataset


def parse_grant(body: Mapping[str, Any]) -> Grant:
    raw = {k: v for k, v in body.items() if k in GRANT_FIELDS}
    for key in ("reference", "origin"):
        _text(raw.get(key), key)
    if isinstance(raw.get("destinations"), list):
        for i, item in enumerate(raw["destinations"]):
            _text(item, ("destinations", i), 8)
    try:
        grant = _GRANT.validate_python(raw)
    except ValidationError as exc:
        raise _problem(exc) from None
    _origin(grant.origin)
    if grant.destinations is not None and not grant.destinations:
        raise invalid("destinations", "give at least one country, or leave it out for any")
    for i, country in enumerate(sorted(grant.destinations or ())):
        if not COUNTRY.match(country):
            raise invalid(("destinations", i), f"{country!r} is not an ISO country code")
    if grant.valid_until is not None and grant.valid_until < grant.valid_from:
        raise invalid("valid_until", "before valid_from")
    if grant.valid_until is not None and grant.valid_until.year < 1900:
        raise invalid("valid_until", "not a real date")
    return grant


def actor_of(caller: Principal) -> str:
    """Who acted, for audit records: `admin`, `operator` or `tenant:<name>`."""
    return f"tenant:{caller.tenant}" if caller.role is Role.TENANT else caller.role.value


def _owner_for(caller: Principal, owner: str) -> None:
    if caller.staff:
        return
    if caller.role is Role.TENANT and caller.tenant == owner:
        return
    raise forbidden(f"tenant: a {caller.tenant} token cannot act for {owner!r}")


# ----- datasets ----------------------------------------------------------------------------------
def add_dataset(session: Session, caller: Principal, body: Any) -> DatasetRow:
    dataset = parse_dataset(body, caller)
    _owner_for(caller, dataset.owner)
    if session.get(TenantRow, dataset.owner) is None:
        raise invalid("owner", f"no tenant named {dataset.owner!r}")
    known = site_countries(session)
    for name in sorted(dataset.sites):
        if name not in known:
            raise invalid("sites", f"no site named {name!r}")
    existing = session.get(DatasetRow, dataset.name)
    if existing is not None and existing.retired_at is not None:
        # The audit log and past jobs name it: one name, one dataset, for ever.
        mine = caller.staff or existing.owner == caller.tenant
        again = f"restore it (POST /v1/datasets/{dataset.name}/restore) or " if mine else ""
        raise conflict("retired", f"dataset {dataset.name} is retired; {again}choose another name")
    if existing is not None:
        raise conflict("exists", f"dataset {dataset.name} already exists")
    row = DatasetRow(
        name=dataset.name,
        owner=dataset.owner,
        origin=dataset.origin,
        data_class=dataset.data_class.value,
        subjects=dataset.subjects,
        sites=sorted(dataset.sites),
        size_bytes=dataset.size_bytes,
        licence=dataset.licence,
        tags=sorted(dataset.tags),
        created_at=time.time(),
    )
    session.add(row)
    session.flush()
    return row


def list_datasets(
    session: Session, caller: Principal, owner: str | None, include_retired: bool = False
) -> list[DatasetRow]:
    query = select(DatasetRow).order_by(DatasetRow.name)
    if not include_retired:
        query = query.where(DatasetRow.retired_at.is_(None))
    if owner is not None and "\x00" in owner:
        return []  # no name holds NUL (PostgreSQL text cannot even be asked about one)
    if not caller.staff:
        if owner is not None and owner != caller.tenant:
            return []
        owner = caller.tenant
    if owner is not None:
        query = query.where(DatasetRow.owner == owner)
    return list(session.scalars(query))


def get_dataset(session: Session, caller: Principal, name: str) -> DatasetRow:
    row = None if "\x00" in name else session.get(DatasetRow, name)
    if row is None or (not caller.staff and row.owner != caller.tenant):
        raise not_found("dataset")
    return row


# ----- compliance ------------------------------------------------------------------------------
COMPLIANCE_FIELDS = (*GRANT_FIELDS, "tenant", "counterparty")


def add_grant(session: Session, caller: Principal, body: Any) -> GrantRow:
    raw = _object(body, "a compliance record")
    _unknown_fields(raw, COMPLIANCE_FIELDS)
    tenant = raw.get("tenant", caller.tenant)
    if not isinstance(tenant, str) or not tenant:
        raise invalid("tenant", "name the tenant that holds the mechanism")
    counterparty = raw.get("counterparty", "")
    if not isinstance(counterparty, str):
        raise invalid("counterparty", "a name: with whom the contract or filing is held")
    _text(counterparty, "counterparty")
    _text(tenant, "tenant")
    grant = parse_grant(raw)
    _owner_for(caller, tenant)
    if session.get(TenantRow, tenant) is None:
        raise invalid("tenant", f"no tenant named {tenant!r}")
    row = GrantRow(
        tenant=tenant,
        mechanism=grant.mechanism.value,
        origin=grant.origin,
        destinations=None if grant.destinations is None else sorted(grant.destinations),
        counterparty=counterparty,
        reference=grant.reference,
        valid_from=None if grant.valid_from == dt.date.min else grant.valid_from.isoformat(),
        valid_until=None if grant.valid_until is None else grant.valid_until.isoformat(),
        created_at=time.time(),
    )
    session.add(row)
    session.flush()
    return row


def list_grants(session: Session, caller: Principal, tenant: str | None) -> list[GrantRow]:
    if tenant is not None and "\x00" in tenant:
        raise not_found("tenant")
    if not caller.staff:
        if tenant is not None and tenant != caller.tenant:
            raise not_found("tenant")
        tenant = caller.tenant
    query = select(GrantRow).order_by(GrantRow.id)
    if tenant is not None:
        query = query.where(GrantRow.tenant == tenant)
    return list(session.scalars(query))


# ----- jobs ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Explanation:
    governance: Governance
    decisions: list[SiteDecision]


@dataclass(slots=True)
class DataRefused(ServiceError):
    """A submit refused by a data decision; `detail` is what its audit record keeps."""

    detail: dict[str, Any] = field(default_factory=dict)


def check_job_datasets(
    session: Session, spec: JobSpec, operator: str | None = None
) -> Explanation | None:
    """Refuse a job naming a dataset its tenant has not registered (422, the field), or one
    whose data may lawfully go to none of the sites it accepts (409, the refusals)."""
    if not spec.datasets:
        return None
    owners, retired = {}, set()
    for name, owner, retired_at in session.execute(
        select(DatasetRow.name, DatasetRow.owner, DatasetRow.retired_at).where(
            DatasetRow.name.in_(sorted(set(spec.datasets)))
        )
    ):
        owners[name] = owner
        if retired_at is not None:
            retired.add(name)
    for i, name in enumerate(spec.datasets):
        if owners.get(name) == spec.tenant and name in retired:
            problem = FieldProblem.at(
                ("datasets", i), f"dataset {name!r} is retired; no new job may read it"
            )
            raise DataRefused(
                422,
                "invalid",
                message_of([problem]),
                [problem],
                {"tenant": spec.tenant, "datasets": list(spec.datasets), "refused": "retired"},
            )
        if owners.get(name) != spec.tenant:
            problem = FieldProblem.at(
                ("datasets", i), f"no dataset named {name!r} registered by tenant {spec.tenant}"
            )
            # The audit log says which it was (the tenant is told only "not yours").
            why = "unknown-dataset" if name not in owners else "another-tenants-dataset"
            raise DataRefused(
                422,
                "invalid",
                message_of([problem]),
                [problem],
                {"tenant": spec.tenant, "datasets": list(spec.datasets), "refused": why},
            )
    explanation = explain_spec(session, spec, operator=operator)
    if explanation.decisions and not any(d.allowed for d in explanation.decisions):
        lines = [
            f"site {d.site} ({d.country}): {d.refusals[0].message}" for d in explanation.decisions
        ]
        detail = audit_detail(
            explanation.governance, spec.tenant, tuple(spec.datasets), explanation.decisions
        )
        raise DataRefused(
            409,
            "data_law",
            "datasets: the job's data may lawfully go to none of its sites; " + " | ".join(lines),
            detail={**detail, "refused": "lawful-nowhere"},
        )
    return explanation


def audit_refusal(session: Session, caller: Principal, spec: JobSpec, refused: DataRefused) -> None:
    """A submit refused on data grounds is a data decision too: it goes in the log (in the
    batch's transaction, which commits the other submits; the refused job stores nothing)."""
    detail = {
        "action": "submit refused",
        "job_name": spec.name,
        "accepts_sites": spec.sites,
        "status": refused.status,
        "code": refused.code,
        "reason": refused.message,
        **refused.detail,
    }
    record(session, "data-decision", actor_of(caller), f"tenant/{spec.tenant}", detail)


def explain_spec(
    session: Session, spec: JobSpec, on: dt.date | None = None, operator: str | None = None
) -> Explanation:
    governance = load_governance(session, on, spec.datasets, operator)
    sites = site_countries(session)
    if spec.sites:
        sites = {s: c for s, c in sites.items() if s in spec.sites}
    decisions = explain(governance, spec.tenant, tuple(spec.datasets), sites)
    return Explanation(governance, decisions)


def operator_hold(
    governance: Governance | None, tenant: str, datasets: tuple[str, ...], sites: Mapping[str, str]
) -> tuple[str, str] | None:
    """A job that operator policies bar at every site it may use (`sites`: name -> country)
    waits as Kueue's inadmissible workloads do, accepted but held until an operator lifts the
    restriction; its hold names each policy, where it applies and what would unblock it.
    None when a data-law refusal is among the reasons (those holds name rule and dataset)."""
    if governance is None or not sites:
        return None
    by_policy: dict[tuple[str, str, str], list[str]] = {}
    for site, country in sorted(sites.items()):
        decision = governance.check(tenant, datasets, site, country)
        if decision.allowed or any(not r.code.startswith("operator:") for r in decision.refusals):
            return None
        first = decision.refusals[0]
        by_policy.setdefault((first.rule, first.legal_basis, first.unblock), []).append(site)
    parts = [
        f"operator policy {rule} at {', '.join(where)} ({why}; unblock: {unblock})"
        for (rule, why, unblock), where in by_policy.items()
    ]
    first_rule = next(iter(by_policy))[0]
    if len(parts) == 1:
        (rule, why, unblock), where = next(iter(by_policy.items()))
        message = (
            f"inadmissible: operator policy {rule} bars it at every site it may use "
            f"({', '.join(where)}): {why}; unblock: {unblock}"
        )
    else:
        message = "inadmissible: operator policies bar every site it may use: " + " | ".join(parts)
    return f"operator:{first_rule}", message


# ----- platform operations (what the routes call) ------------------------------------------------
def register_dataset(platform: Platform, caller: Principal, body: Any) -> dict[str, Any]:
    with audited(platform.store) as session:
        row = add_dataset(session, caller, body)
        dataset = dataset_of(row)
        detail = {"action": "dataset add", **dataset_json(dataset)}  # as registered
        record(session, "admin", actor_of(caller), f"dataset/{dataset.name}", detail)
        out = dataset_views(session, [row])[0]
    platform.loop.governance_changed()
    if dataset.sites:  # new copies: data locality changed for placement
        platform.sites_changed()
    return out


# What `PATCH /v1/datasets/{name}` may change: where the registration says copies sit. The
# origin, class and subjects are what the data law and the yearly counts were decided by.
DATASET_SETTINGS = ("sites",)


def update_dataset(platform: Platform, caller: Principal, name: str, body: Any) -> dict[str, Any]:
    """Replace the sites a registered dataset lists as holding a copy (its owner, admins and
    operators; audited). Sites that declare the dataset themselves keep that record of it.
    Placement scores the new copies from the loop's next pass; the data law is unchanged."""
    raw = _object(body, "a dataset change")
    _unknown_fields(raw, DATASET_SETTINGS)
    if "sites" not in raw:
        raise invalid(BODY, "give sites: the sites holding a copy (replaces the list)")
    sites = raw["sites"]
    if not isinstance(sites, list):
        raise invalid("sites", "a list of site names ([] for none)")
    for i, site in enumerate(sites):
        if not isinstance(site, str):
            raise invalid(("sites", i), "a site name")
        _text(site, ("sites", i), 128)
    with audited(platform.store) as session:
        row = get_dataset(session, caller, name)
        if row.retired_at is not None:
            raise conflict("retired", f"dataset {name} is retired; its copies count nowhere")
        known = site_countries(session)
        for i, site in enumerate(sites):
            if site not in known:
                raise invalid(("sites", i), f"no site named {site!r}")
        before, after = list(row.sites), sorted(set(sites))
        changed = before != after
        if changed:
            row.sites = after
            detail = {
                "action": "dataset update",
                "dataset": name,
                "changes": {"sites": {"from": before, "to": after}},
            }
            record(session, "admin", actor_of(caller), f"dataset/{name}", detail)
            session.flush()
        out = dataset_views(session, [row])[0]
    if changed:  # data locality changed for placement (never the data law)
        platform.sites_changed()
    return out


def dataset_views(session: Session, rows: list[DatasetRow]) -> list[dict[str, Any]]:
    """Datasets as the API shows them: `sites` are all the sites holding a copy, whichever
    record says so, and `copies` says which (control/copies.py). A retired one shows the
    sites its registration last listed and no copies (they count nowhere), and when and by
    whom it was retired."""
    held = copies.copies_of(session, [r.name for r in rows])
    out = []
    for row in rows:
        view = dataset_json(dataset_of(row))
        if row.retired_at is None:
            view["sites"] = [c.site for c in held[row.name]]
        view["copies"] = [c.json() for c in held[row.name]]
        view["retired_at"], view["retired_by"] = row.retired_at, row.retired_by
        out.append(view)
    return out


@dataclass(frozen=True, slots=True)
class SiteCopies:
    """What a site view shows of the data at each site (`GET /v1/sites`)."""

    held: dict[str, list[copies.Held]]  # site -> its copies the caller may see
    hidden: frozenset[str]  # names to leave out of a declaration shown to the caller


def site_copies(session: Session, caller: Principal, specs: Sequence[SiteSpec]) -> SiteCopies:
    """Each site's copies from the one reader (control/copies.py), as the caller may see them.
    Staff see every copy (a declared name nobody registered included). A tenant sees only
    copies of its own registered datasets, as `GET /v1/datasets` shows it only those, and a
    site's declaration shown to it leaves out names another tenant registered: the site view
    tells no tenant another's dataset names."""
    held = copies.held_at(session, specs)
    if caller.staff:
        return SiteCopies(held, frozenset())
    named = {n for spec in specs for n in spec.datasets}
    named.update(h.dataset for at in held.values() for h in at)
    query = select(DatasetRow.name, DatasetRow.owner).where(DatasetRow.name.in_(sorted(named)))
    owners = {name: owner for name, owner in session.execute(query)}
    mine = {name for name, owner in owners.items() if owner == caller.tenant}
    return SiteCopies(
        {site: [h for h in at if h.dataset in mine] for site, at in held.items()},
        frozenset(owners.keys() - mine),
    )


def datasets(
    platform: Platform, caller: Principal, owner: str | None, include_retired: bool = False
) -> list[dict[str, Any]]:
    with platform.store.session() as session:
        return dataset_views(session, list_datasets(session, caller, owner, include_retired))


def dataset(platform: Platform, caller: Principal, name: str) -> dict[str, Any]:
    with platform.store.session() as session:
        return dataset_views(session, [get_dataset(session, caller, name)])[0]


# A job in these states reads its datasets now or will: its data law decision was made on them.
READING_STATES = ("pending", "starting", "running", "terminating")
NAMED_JOBS = 5  # a refusal names at most this many of the jobs in the way


@dataclass(frozen=True, slots=True)
class Readers:
    """The owner's jobs not yet ended that read a dataset: the first `NAMED_JOBS` of them
    (id, state) by id, and how many there are."""

    first: list[tuple[int, str]]
    count: int


def readers_query(dataset: str, owner: str) -> Executable:
    return (
        select(JobRow.id, JobRow.state, func.count().over())
        .join(JobDatasetRow, JobDatasetRow.job_id == JobRow.id)
        .where(
            JobDatasetRow.dataset == dataset,
            JobRow.tenant == owner,
            JobRow.state.in_(READING_STATES),
        )
        .order_by(JobRow.id)
        .limit(NAMED_JOBS)
    )


def jobs_reading(session: Session, row: DatasetRow) -> Readers:
    """One query, by index: the dataset's entries in `job_datasets` (written with each job)
    joined to their jobs, kept where the job is its owner's (only its owner's may read it)
    and not yet ended; the count comes with the first rows (a window over the whole match)."""
    found = session.execute(readers_query(row.name, row.owner)).all()
    return Readers([(job, state) for job, state, _ in found], found[0][2] if found else 0)


def retire_dataset(platform: Platform, caller: Principal, name: str) -> dict[str, Any]:
    """Retire a registered dataset (its owner, admins and operators, as for PATCH; audited):
    the row stays, since the audit log, past jobs and yearly counts name it, but no new job
    may read it and its copies count nowhere for placement. Refused (409) while a job reading
    it has not ended: its data law decision was made on the dataset; cancel it first."""
    with audited(platform.store) as session:
        row = get_dataset(session, caller, name)
        if row.retired_at is not None:
            raise conflict("retired", f"dataset {name} is retired already")
        reading = jobs_reading(session, row)
        if reading.count:
            shown = ", ".join(f"{job} ({state})" for job, state in reading.first)
            extra = reading.count - len(reading.first)
            more = f" and {extra} more" if extra else ""
            raise conflict(
                "in_use",
                f"dataset {name} is read by jobs not yet ended: {shown}{more}; their data law "
                "decision was made on it; cancel them (or let them end) first",
            )
        row.retired_at, row.retired_by = time.time(), actor_of(caller)
        detail = {"action": "dataset retire", "dataset": name, "sites": list(row.sites)}
        record(session, "admin", row.retired_by, f"dataset/{name}", detail)
        session.flush()
        out = dataset_views(session, [row])[0]
    platform.loop.governance_changed()
    platform.sites_changed()  # its copies no longer draw work (control/copies.py)
    return out


def restore_dataset(platform: Platform, caller: Principal, name: str) -> dict[str, Any]:
    """Bring a retired dataset back (whoever may retire it; audited): new jobs may read it
    again and its copies, by either record, count for placement again. Its registration is
    as it was retired (the same origin, class and listed sites), so the data law decides as
    before. Refused (409) where it is not retired; another tenant's answers 404 as a missing
    one does."""
    with audited(platform.store) as session:
        row = get_dataset(session, caller, name)
        if row.retired_at is None:
            raise conflict("not_retired", f"dataset {name} is not retired; nothing to restore")
        detail = {
            "action": "dataset restore",
            "dataset": name,
            "sites": list(row.sites),
            "retired_at": row.retired_at,
            "retired_by": row.retired_by,
        }
        row.retired_at = row.retired_by = None
        record(session, "admin", actor_of(caller), f"dataset/{name}", detail)
        session.flush()
        out = dataset_views(session, [row])[0]
    platform.loop.governance_changed()
    platform.sites_changed()  # its copies draw work again (control/copies.py)
    return out


def record_grant(platform: Platform, caller: Principal, body: Any) -> dict[str, Any]:
    with audited(platform.store) as session:
        out = grant_json(add_grant(session, caller, body))
        detail = {"action": "compliance add", **out}
        record(session, "admin", actor_of(caller), f"tenant/{out['tenant']}", detail)
    platform.loop.governance_changed()
    return out


def grants(platform: Platform, caller: Principal, tenant: str | None) -> list[dict[str, Any]]:
    with platform.store.session() as session:
        return [grant_json(r) for r in list_grants(session, caller, tenant)]


def explain_job(platform: Platform, caller: Principal, job_id: int) -> dict[str, Any]:
    """Per site: may the job's data go there, and why (`silkroute explain JOB`)."""
    from silkroute.control.service import _own_job

    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        spec = JobSpec.model_validate(row.spec)
        found = explain_spec(session, spec, operator=platform.loop.operator_policies)
        held = copies.copies_of(session, spec.datasets)
    governance = found.governance
    count = yearly_count_json(governance.tenant(spec.tenant), governance)
    return {
        "job": row.id,
        "tenant": spec.tenant,
        "state": row.state,
        "hold_reason": row.hold_reason,
        "hold_message": row.hold_message,
        **audit_detail(governance, spec.tenant, tuple(spec.datasets), found.decisions),
        "sent_abroad_this_year": count,
        # Data locality (where placement prefers), never an input of the decisions above.
        "copies": {name: [c.json() for c in at] for name, at in held.items()},
        "lines": [
            *render(found.decisions),
            *yearly_count_lines(spec.tenant, count),
            *copies_lines(held),
        ],
    }


def copies_lines(held: Mapping[str, list[copies.Copy]]) -> list[str]:
    out = []
    for name, at in held.items():
        where = ", ".join(f"{c.site} ({'+'.join(c.recorded_by)})" for c in at) or "none recorded"
        out.append(f"copies of {name} (locality only, not the law): {where}")
    return out
