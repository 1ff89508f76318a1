"""What the API does, one function per operation; routes only parse, call and serialise.

Every function takes the caller (`Principal`) and enforces what it may see: a tenant sees
only its own jobs, and another tenant's job answers "not found", exactly like a missing one.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from silkroute.control import accounting, limits
from silkroute.control.auth import Principal, Role, TokenCache, hash_token, issue_token
from silkroute.control.copies import Held
from silkroute.control.errors import conflict, forbidden, invalid, not_found
from silkroute.control.governance import actor_of, site_copies
from silkroute.control.inventory import engine_node_states, parse_stored
from silkroute.control.loop import (
    ACTIVE_JOB_STATES,
    LIVE_RUN_STATES,
    TERMINAL_JOB_STATES,
    ControlLoop,
)
from silkroute.control.scheduling import LiveScheduler, node_names
from silkroute.control.submits import (
    Accepted,
    SitesSnapshot,
    SubmitWriter,
    finite,
    no_nul,
    prepare,
    validation_problems,
)
from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import NodeGroupSpec, SiteSpec
from silkroute.model.job import JobSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.audit import audited, record
from silkroute.store.db import Store
from silkroute.store.models import (
    AgentRow,
    JobEventRow,
    JobRow,
    NodeStateRow,
    RunRow,
    SiteRow,
    TenantRow,
    TokenRow,
)

JOB_STATES = (*ACTIVE_JOB_STATES, *TERMINAL_JOB_STATES)


@dataclass(slots=True)
class Platform:
    """What every service needs: the store and the live loop (with its back end)."""

    store: Store
    loop: ControlLoop
    # Schedulers over the stored sites, for "could this job ever run?" at submit time; keyed
    # by the sites and the tenant's limits, so a change is seen at once (not at the next pass).
    checkers: dict[tuple[object, ...], LiveScheduler] = field(default_factory=dict)
    tokens: TokenCache = field(default_factory=TokenCache)
    sites: SitesSnapshot | None = None
    tenants: dict[str, TenantRow] = field(default_factory=dict)  # for submits (submits.py)
    tenants_checked_at: float = 0.0
    submits: SubmitWriter = field(init=False)

    def __post_init__(self) -> None:
        self.submits = SubmitWriter(self)

    def sites_changed(self) -> None:
        """Sites, their nodes or the data at them changed: the submit check's snapshot is
        dropped at once, and the live loop's book is rebuilt on its next pass."""
        self.sites = None
        self.loop.request_rebuild()


# ----- tenants ---------------------------------------------------------------------------------
def create_tenant(
    platform: Platform,
    caller: Principal,
    spec: TenantSpec,
    monthly_budget: float | None,
    ciio: bool = False,
    max_priority: str | int | None = limits.DEFAULT_MAX_PRIORITY,
    max_pending_jobs: int | None = limits.DEFAULT_MAX_PENDING_JOBS,
) -> tuple[TenantRow, str]:
    caller.require(Role.ADMIN)
    no_nul(spec.model_dump(mode="json"))
    with audited(platform.store) as session:
        if session.get(TenantRow, spec.name) is not None:
            raise conflict("exists", f"tenant {spec.name} already exists")
        _check_quota_types(session, spec.quota)
        row = TenantRow(
            name=spec.name,
            country=spec.country,
            weight=spec.weight,
            quota=dict(spec.quota),
            voucher_accelerator_hours=spec.voucher_accelerator_hours,
            pay_as_you_go=spec.pay_as_you_go,
            max_running_jobs=spec.max_running_jobs,
            monthly_budget=monthly_budget,
            created_at=time.time(),
            ciio=ciio,
            max_priority=limits.stored_ceiling(max_priority),
            max_pending_jobs=max_pending_jobs,
        )
        session.add(row)
        session.flush()
        token = issue_token(session, Role.TENANT, spec.name, label=f"tenant {spec.name}")
        detail = {
            "action": "tenant create",
            "ciio": ciio,
            "monthly_budget": monthly_budget,
            "max_priority": max_priority,
            "max_pending_jobs": max_pending_jobs,
            **spec.model_dump(mode="json"),
        }
        record(session, "admin", actor_of(caller), f"tenant/{spec.name}", detail)
    platform.tenants_checked_at = 0.0
    platform.loop.request_rebuild()
    return row, token


# What `PATCH /v1/tenants/{name}` may change: the scheduler's view of the tenant (checked
# as a `TenantSpec`; its caps may be null: none) and the control plane's own caps.
SPEC_SETTINGS = ("weight", "quota", "voucher_accelerator_hours", "pay_as_you_go")
SPEC_CAPS = ("max_running_jobs",)
NULLABLE_SETTINGS = ("monthly_budget", "max_priority", "max_pending_jobs", *SPEC_CAPS)
TENANT_SETTINGS = (*SPEC_SETTINGS, *NULLABLE_SETTINGS)


def check_patch(
    changes: dict[str, Any],
    settings: tuple[str, ...],
    nullable: tuple[str, ...] = (),
    maps: tuple[str, ...] = (),
) -> None:
    """A PATCH body's keys before anything is read: at least one, each a setting that can
    be changed, null only where it clears the setting (`nullable`; in a merge-patched map,
    `maps`, null removes one key inside it instead), finite numbers and no NUL."""
    if not changes:
        raise invalid("(body)", f"give at least one of {', '.join(settings)}")
    for key, value in changes.items():
        if key not in settings:
            raise invalid(key, f"not a setting that can be changed; one of {', '.join(settings)}")
        if value is None and key not in nullable:
            hint = "; null inside it removes one key" if key in maps else ""
            raise invalid(key, f"may not be null{hint}")
    finite(changes)
    no_nul(changes)


def update_tenant(
    platform: Platform, caller: Principal, name: str, changes: dict[str, Any]
) -> TenantRow:
    """Change some of a tenant's settings (admins only, audited). The live loop's book is
    rebuilt on its next pass, so a new weight, quota, voucher grant, running cap or budget
    counts from then on; new submit limits apply to the next submit. Jobs already accepted
    are not touched (a lower running cap stops none: it holds the next starts)."""
    if caller.role is Role.TENANT and caller.tenant != name:
        raise not_found("tenant")  # another tenant's looks exactly like a missing one
    caller.require(Role.ADMIN)  # its own tenant, or an operator: 403 (roles, platform.md)
    check_patch(changes, TENANT_SETTINGS, nullable=NULLABLE_SETTINGS)
    with audited(platform.store) as session:
        row = session.get(TenantRow, name)
        if row is None:
            raise not_found("tenant")
        before = _settings(row)
        given = {k: v for k, v in changes.items() if k in (*SPEC_SETTINGS, *SPEC_CAPS)}
        merged = {**row.spec().model_dump(), **given}
        try:
            spec = TenantSpec.model_validate(merged)
        except ValidationError as exc:
            raise validation_problems(exc) from None
        if "quota" in changes:
            _check_quota_types(session, spec.quota)
        row.weight, row.quota = spec.weight, dict(spec.quota)
        row.voucher_accelerator_hours = spec.voucher_accelerator_hours
        row.pay_as_you_go = spec.pay_as_you_go
        row.max_running_jobs = spec.max_running_jobs
        if "monthly_budget" in changes:
            row.monthly_budget = changes["monthly_budget"]
        if "max_priority" in changes:
            row.max_priority = limits.stored_ceiling(changes["max_priority"])
        if "max_pending_jobs" in changes:
            row.max_pending_jobs = changes["max_pending_jobs"]
        after = _settings(row)
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        detail = {"action": "tenant update", "changes": changed}
        record(session, "admin", actor_of(caller), f"tenant/{name}", detail)
    platform.tenants_checked_at = 0.0  # the next submit reads the new limits
    platform.loop.request_rebuild()  # the book's accounts: weight, quota, vouchers
    return row


def _check_quota_types(session: Session, quota: dict[str, float]) -> None:
    """Refuse a quota key that is not `*`, not in the catalogue and not the type of any
    registered site's nodes: a typo (`H1OO`) was stored and limited nothing, while the
    tenant's real type stayed unlimited. The model itself keeps unknown names, which
    simulator traces need (`G1`, `G2`...); here a live platform knows every type it has."""
    names = set(catalogue().names())
    unknown = [key for key in quota if key != "*" and key not in names]
    if not unknown:
        return  # the sites are read only where the catalogue does not settle it
    site_types = {
        kind
        for row in session.scalars(select(SiteRow))
        for kind in SiteSpec.model_validate(row.spec).accelerator_types()
    }
    for key in unknown:
        _refuse_unknown_type(key, ("quota", key), site_types, also=("*",))


def _refuse_unknown_type(
    kind: str, where: tuple[str, ...], site_types: set[str], also: tuple[str, ...] = ()
) -> None:
    """422 at `where` unless `kind` is a catalogue type or one of `site_types` (the types of
    the nodes it may name); the answer lists what is known (`also` first, e.g. `*`)."""
    known = set(catalogue().names()) | site_types
    if kind not in known:
        listed = ", ".join([*also, *sorted(known)])
        raise invalid(where, f"unknown accelerator type; known: {listed}")


def _settings(row: TenantRow) -> dict[str, Any]:
    return {
        "weight": row.weight,
        "quota": dict(row.quota),
        "voucher_accelerator_hours": row.voucher_accelerator_hours,
        "pay_as_you_go": row.pay_as_you_go,
        "monthly_budget": row.monthly_budget,
        "max_priority": limits.ceiling(row),
        "max_pending_jobs": row.max_pending_jobs,
        "max_running_jobs": row.max_running_jobs,
    }


def list_tenants(platform: Platform, caller: Principal) -> list[TenantRow]:
    with platform.store.session() as session:
        query = select(TenantRow).order_by(TenantRow.name)
        if not caller.staff:
            query = query.where(TenantRow.name == caller.tenant)
        return list(session.scalars(query))


def get_tenant(platform: Platform, caller: Principal, name: str) -> TenantRow:
    with platform.store.session() as session:
        row = session.get(TenantRow, name)
        if row is None or (not caller.staff and caller.tenant != name):
            raise not_found("tenant")
        return row


# ----- tokens ----------------------------------------------------------------------------------
def _visible_tokens(caller: Principal) -> Any:
    """Admins see every token, a tenant its tenant's, an operator its own."""
    query = select(TokenRow).order_by(TokenRow.id)
    if caller.role is Role.ADMIN:
        return query
    if caller.role is Role.TENANT:
        return query.where(TokenRow.tenant == caller.tenant, TokenRow.role == Role.TENANT.value)
    return query.where(TokenRow.id == caller.token_id)


def list_tokens(platform: Platform, caller: Principal) -> list[TokenRow]:
    with platform.store.session() as session:
        return list(session.scalars(_visible_tokens(caller)))


def issue_tenant_or_staff_token(
    platform: Platform, caller: Principal, role: Role, tenant: str | None, label: str
) -> tuple[TokenRow, str]:
    """A new token: admins issue any; a tenant one more of its own (to rotate: issue, then
    revoke the old one)."""
    if caller.role is not Role.ADMIN:
        if caller.role is not Role.TENANT or role is not Role.TENANT:
            raise forbidden("only an admin issues admin or operator tokens")
        if tenant not in (None, caller.tenant):
            raise not_found("tenant")
        tenant = caller.tenant
    if role is Role.TENANT and tenant is None:
        raise invalid("tenant", "a tenant token names its tenant")
    if role is not Role.TENANT and tenant is not None:
        raise invalid("tenant", f"an {role.value} token belongs to no tenant")
    no_nul(label, ("label",))
    with audited(platform.store) as session:
        if tenant is not None and session.get(TenantRow, tenant) is None:
            raise not_found("tenant")
        token = issue_token(session, role, tenant, label=label)
        session.flush()
        row = session.scalars(
            select(TokenRow).where(TokenRow.token_hash == hash_token(token))
        ).one()
        detail = {"action": "token issue", "id": row.id, "role": role.value, "tenant": tenant}
        record(session, "admin", actor_of(caller), f"token/{row.id}", detail)
    return row, token


def revoke_token(platform: Platform, caller: Principal, token_id: int) -> TokenRow:
    """Revoke a token: it answers 401 from now on, also where it was cached."""
    with audited(platform.store) as session:
        row = session.scalar(_visible_tokens(caller).where(TokenRow.id == token_id))
        if row is None:
            raise not_found("token")
        if row.revoked_at is not None:
            raise conflict("revoked", f"token {token_id} was revoked already")
        row.revoked_at = time.time()
        detail = {"action": "token revoke", "id": row.id, "role": row.role, "tenant": row.tenant}
        record(session, "admin", actor_of(caller), f"token/{row.id}", detail)
    platform.tokens.revoke(row.token_hash)
    return row


# ----- sites -----------------------------------------------------------------------------------
MAX_SITE_NODES = 100_000  # a site file with more nodes is a typo, not a computing centre


def add_site(platform: Platform, caller: Principal, spec: SiteSpec) -> SiteRow:
    caller.require(Role.ADMIN, Role.OPERATOR)
    _check_declaration(spec, declared_before=0)
    for key in spec.price_per_accelerator_hour:
        _priced_type(spec, key)
    with audited(platform.store) as session:
        if session.get(SiteRow, spec.name) is not None:
            raise conflict("exists", f"site {spec.name} already exists")
        _no_name_clash(session, spec, old_groups=0)
        row = SiteRow(
            name=spec.name,
            country=spec.country,
            spec=spec.model_dump(mode="json"),
            created_at=time.time(),
        )
        session.add(row)
        detail = {"action": "site add", "name": spec.name, "country": spec.country}
        record(session, "admin", actor_of(caller), f"site/{spec.name}", detail)
    platform.sites_changed()
    return row


def add_nodes(
    platform: Platform, caller: Principal, site: str, groups: list[NodeGroupSpec]
) -> list[NodeView]:
    """Declare more nodes at a registered site (a new rack): `groups` as in a site file's
    `nodes`, appended to its declaration. Their names continue the site's numbering, so no
    node, also no removed one, changes its name. The loop's next pass schedules onto them."""
    caller.require(Role.ADMIN, Role.OPERATOR)
    if not groups:
        raise invalid("nodes", "give at least one node group")
    no_nul([group.model_dump(mode="json") for group in groups], ("nodes",))
    with audited(platform.store) as session:
        row = session.get(SiteRow, site)
        if row is None:
            raise not_found("site")
        old = SiteSpec.model_validate(row.spec)
        # The groups were read by the model `site add` uses; the site's own checks again:
        spec = SiteSpec.model_validate({**row.spec, "nodes": [*old.nodes, *groups]})
        _check_declaration(spec, declared_before=sum(group.count for group in old.nodes))
        added = _no_name_clash(session, spec, len(old.nodes))
        row.spec = spec.model_dump(mode="json")
        detail = {
            "action": "node add",
            "site": site,
            "groups": [g.model_dump(mode="json") for g in groups],
            "count": len(added),
            "first": added[0],
            "last": added[-1],
        }
        record(session, "admin", actor_of(caller), f"site/{site}", detail)
    platform.sites_changed()  # what could ever run changed
    new = set(added)
    return [v for v in list_nodes(platform, caller, site) if v.node in new]


def _check_declaration(spec: SiteSpec, declared_before: int) -> None:
    """What the model cannot say alone: the site's size, and what the scheduler can hold."""
    nodes = sum(group.count for group in spec.nodes)
    if nodes > MAX_SITE_NODES:
        before = f" ({declared_before} declared before, removed ones included)"
        total = f"{nodes} nodes{before if declared_before else ''}"
        raise invalid("nodes", f"{total}; a site has at most {MAX_SITE_NODES}")
    no_nul(spec.model_dump(mode="json"))
    finite(spec.model_dump())
    try:  # what the scheduler cannot hold (sizes past its integer counters) is refused here
        LiveScheduler([spec], [])
    except (OverflowError, ValueError) as exc:
        raise invalid("nodes", f"the scheduler cannot hold this site: {exc}") from None


def _no_name_clash(session: Session, spec: SiteSpec, old_groups: int) -> list[str]:
    """The names of the nodes of `spec`'s groups from `old_groups` on; refused where another
    site has a node of that name (a site numbers its own nodes, so only `name_prefix` can
    clash): the live loop and the engines know a node by its name alone."""
    others = [
        SiteSpec.model_validate(r.spec)
        for r in session.scalars(select(SiteRow).where(SiteRow.name != spec.name))
    ]
    taken = {n.node: n.site for n in node_names(others)}
    first_new = sum(group.count for group in spec.nodes[:old_groups])
    new = [n.node for n in node_names([spec])[first_new:]]
    owner = [i for i, group in enumerate(spec.nodes[old_groups:]) for _ in range(group.count)]
    for name, index in zip(new, owner, strict=True):
        if name in taken:
            reason = f"node {name} exists at site {taken[name]}; choose another name_prefix"
            raise invalid(("nodes", index, "name_prefix"), reason)
    return new


@dataclass(slots=True)
class SiteView:
    """A site as `GET /v1/sites` shows it: its declaration as stored (`spec`; for a tenant,
    less the names of datasets another tenant registered), and every copy of a dataset there
    that the caller may see, whichever record says so (control/copies.py)."""

    name: str
    country: str
    spec: SiteSpec
    copies: list[Held]


def list_sites(platform: Platform, caller: Principal) -> list[SiteView]:
    with platform.store.session() as session:
        return _site_views(session, caller, list(session.scalars(select(SiteRow))))


def get_site(platform: Platform, caller: Principal, name: str) -> SiteView:
    with platform.store.session() as session:
        row = None if "\x00" in name else session.get(SiteRow, name)
        if row is None:
            raise not_found("site")
        return _site_views(session, caller, [row])[0]


def _site_views(session: Session, caller: Principal, rows: list[SiteRow]) -> list[SiteView]:
    rows = sorted(rows, key=lambda r: r.name)
    specs = [SiteSpec.model_validate(r.spec) for r in rows]
    seen = site_copies(session, caller, specs)
    out = []
    for row, spec in zip(rows, specs, strict=True):
        if seen.hidden & set(spec.datasets):
            kept = [name for name in spec.datasets if name not in seen.hidden]
            spec = spec.model_copy(update={"datasets": kept})
        out.append(SiteView(row.name, row.country, spec, seen.held[row.name]))
    return out


# What `PATCH /v1/sites/{site}` may change: everything of a declaration but its identity
# (name), its jurisdiction (country) and its nodes (their own routes). The maps are merged
# key by key, RFC 7386's merge patch; `datasets`, a list, is replaced whole.
SITE_SETTINGS = ("operator", "price_per_accelerator_hour", "latency_ms", "datasets")
SITE_MAPS = ("price_per_accelerator_hour", "latency_ms")


def update_site(
    platform: Platform, caller: Principal, name: str, changes: dict[str, Any]
) -> SiteRow:
    """Change a registered site's operator, prices, latencies or datasets (operators and
    admins, audited). The merged declaration is checked as a `SiteSpec`, so a change is held
    to a site file's bounds; nothing is stored on a refusal. The loop's next pass rebuilds
    its book from the store, so placement scores the new prices, latencies and data
    locality from then on; the submit check sees the change at once. Running jobs stay
    where they are."""
    caller.require(Role.ADMIN, Role.OPERATOR)
    check_patch(changes, SITE_SETTINGS, maps=SITE_MAPS)  # the API's model refuses first
    with audited(platform.store) as session:
        row = session.get(SiteRow, name)
        if row is None:
            raise not_found("site")
        old = SiteSpec.model_validate(row.spec)
        given = dict(changes)
        if "price_per_accelerator_hour" in given:
            given["price_per_accelerator_hour"] = _merge_prices(
                old, given["price_per_accelerator_hour"]
            )
        if "latency_ms" in given:
            given["latency_ms"] = _merge(old.latency_ms, given["latency_ms"])
        try:
            spec = SiteSpec.model_validate({**row.spec, **given})
        except ValidationError as exc:
            raise validation_problems(exc) from None
        before = old.model_dump(mode="json", include=set(SITE_SETTINGS))
        after = spec.model_dump(mode="json", include=set(SITE_SETTINGS))
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        if changed:
            row.spec = spec.model_dump(mode="json")
            detail = {"action": "site update", "site": name, "changes": changed}
            record(session, "admin", actor_of(caller), f"site/{name}", detail)
    if changed:  # prices, latencies (they decide an SLO's sites), data
        platform.sites_changed()
    return row


def _merge(current: dict[str, float], patch: dict[str, float | None]) -> dict[str, float]:
    """RFC 7386 on one flat map: a key given takes its value, null removes it."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _merge_prices(site: SiteSpec, patch: dict[str, float | None]) -> dict[str, float]:
    """Prices merged under their catalogue names (`h100` changes `H100`)."""
    canonical = {_priced_type(site, key): value for key, value in patch.items()}
    return _merge(site.price_per_accelerator_hour, canonical)


def _priced_type(site: SiteSpec, key: str) -> str:
    """The catalogue name of a type `site` is given a price for. A type neither the
    catalogue nor the site's nodes know is refused: a typo (`H1OO`), which left the real
    type's price as it was (or none: free), unsaid."""
    kind = catalogue().canonical(key)
    _refuse_unknown_type(kind, ("price_per_accelerator_hour", key), site.accelerator_types())
    return kind


# ----- nodes ------------------------------------------------------------------------------------
NODE_ACTIONS = ("drain", "undrain", "remove", "restore")


@dataclass(slots=True)
class NodeView:
    site: str
    node: str
    accelerator: str | None
    accelerators: int
    state: str  # active, drained, removed
    # What its site's engine reports, where it takes something away: why the node is
    # drained, or its accelerators capped ("" where the engine agrees or says nothing).
    engine: str = ""
    engine_node: str | None = None  # the engine's node paired with it
    engine_accelerators: int | None = None  # the cap, where it has fewer than declared


def list_nodes(platform: Platform, caller: Principal, site: str | None) -> list[NodeView]:
    with platform.store.session() as session:
        query = select(SiteRow).order_by(SiteRow.name)
        if site is not None:
            query = query.where(SiteRow.name == site)
        specs = [SiteSpec.model_validate(r.spec) for r in session.scalars(query)]
        if site is not None and not specs:
            raise not_found("site")
        states = {(r.site, r.node): r.state for r in session.scalars(select(NodeStateRow))}
        stored = {
            a.site: found
            for a in session.scalars(select(AgentRow))
            if (found := parse_stored(a.inventory)) is not None
        }
    drained, caps, diffs = engine_node_states(specs, stored)
    views = []
    for n in node_names(specs):
        state = states.get((n.site, n.node), "active")
        matched = diffs[n.site].matched if n.site in diffs else {}
        engine = drained.get(n.node, "")
        if n.node in caps:
            capped = f"capped to {caps[n.node]} of {n.accelerators} accelerators by its engine"
            engine = f"{engine}; {capped}" if engine else capped
        if engine and state == "active" and n.node in drained:
            state = "drained"  # by its engine: the same drain as an operator's
        view = NodeView(n.site, n.node, n.accelerator, n.accelerators, state, engine)
        view.engine_node, view.engine_accelerators = matched.get(n.node), caps.get(n.node)
        views.append(view)
    return views


@dataclass(frozen=True, slots=True)
class KeptDrain:
    node: str
    drained_by: str
    drained_at: float


@dataclass(slots=True)
class NodesChanged:
    nodes: list[NodeView]
    requeued: list[int]  # a removal: the jobs that ran there
    # A restore: nodes that come back drained, as an operator left them before their removal
    # (each with who drained it and when).
    kept_drained: list[KeptDrain]


def change_nodes(
    platform: Platform, caller: Principal, site: str, action: str, nodes: list[str] | None
) -> NodesChanged:
    """Drain (no new work; running work finishes), undrain, remove (running work is stopped
    and requeued) or restore (a removed node takes work again; one drained before its
    removal comes back drained) the site's `nodes` (default: all of them; for a restore, all
    its removed ones). Stored, so a restarted server keeps them; the live loop carries it
    out."""
    caller.require(Role.ADMIN, Role.OPERATOR)
    if action not in NODE_ACTIONS:
        raise invalid("action", f"one of {', '.join(NODE_ACTIONS)}")
    now = time.time()
    with audited(platform.store) as session:
        row = session.get(SiteRow, site)
        if row is None:
            raise not_found("site")
        known = {n.node: n for n in node_names([SiteSpec.model_validate(row.spec)])}
        names = list(dict.fromkeys(nodes)) if nodes else list(known)
        for i, name in enumerate(names):
            if name not in known:
                raise invalid(("nodes", i), f"site {site} has no node {name!r}")
        states = {
            r.node: r
            for r in session.scalars(select(NodeStateRow).where(NodeStateRow.site == site))
        }
        changed = names
        kept: list[KeptDrain] = []
        if action == "restore":
            if not nodes:
                names = [n for n in names if n in states and states[n].state == "removed"]
            changed, kept = _restore(session, site, [states[n] for n in names if n in states])
        else:
            _set_states(session, site, action, names, states, actor_of(caller), now)
        requeued: list[int] = []
        if action == "remove":
            live = session.execute(
                select(RunRow.job_id, RunRow.placement).where(
                    RunRow.state.in_(("launching", "running"))
                )
            ).all()
            gone = set(names)
            requeued = sorted({job for job, placement in live if gone & {n for n, _ in placement}})
        detail: dict[str, Any] = {
            "action": f"node {action}",
            "site": site,
            "nodes": changed,
            "requeued": requeued,
        }
        if kept:
            detail["kept_drained"] = [k.node for k in kept]
        record(session, "admin", actor_of(caller), f"site/{site}", detail)
    platform.sites = None  # removed nodes change what could ever run
    platform.loop.nodes_changed()
    named = set(names)
    views = [v for v in list_nodes(platform, caller, site) if v.node in named]
    return NodesChanged(views, requeued, kept)


def _set_states(
    session: Session,
    site: str,
    action: str,
    names: list[str],
    states: dict[str, NodeStateRow],
    actor: str,
    now: float,
) -> None:
    """Drain, undrain or remove: a removed node is only removed again, never drained. A
    drained node that is removed keeps its drain (who, when) for its restore."""
    for name in names:
        current = states.get(name)
        if current is not None and current.state == "removed":
            if action == "remove":
                continue
            raise conflict("removed", f"node {name} was removed; `restore` brings it back first")
        if action == "undrain":
            if current is not None:
                session.delete(current)
            continue
        state = "drained" if action == "drain" else "removed"
        if current is None:
            session.add(
                NodeStateRow(site=site, node=name, state=state, changed_at=now, changed_by=actor)
            )
            continue
        if state == "removed" and current.state == "drained":
            current.drained_at, current.drained_by = current.changed_at, current.changed_by
        current.state, current.changed_at, current.changed_by = state, now, actor


def _restore(
    session: Session, site: str, rows: list[NodeStateRow]
) -> tuple[list[str], list[KeptDrain]]:
    """Removed nodes (of `rows`) come back as they were before their removal: active (they
    take work again) or drained, as an operator left them. Only once no run that was there
    may still run (a removed node's runs are fenced: stopped by their agent, which reports
    them gone), so no job runs twice. Nodes named that were not removed are left as they
    are. Returns the nodes restored, and those of them that come back drained."""
    removed = {r.node: r for r in rows if r.state == "removed"}
    if not removed:
        return [], []
    live = session.execute(
        select(RunRow.run_id, RunRow.job_id, RunRow.state, RunRow.placement)
        .where(RunRow.site == site, RunRow.state.in_(LIVE_RUN_STATES))
        .order_by(RunRow.run_id)
    ).all()
    for run_id, job_id, state, placement in live:
        there = sorted(removed.keys() & {n for n, _ in placement})
        if there:
            raise conflict(
                "fenced",
                f"node {there[0]}: run {run_id} of job {job_id} that ran there is not yet "
                f"confirmed stopped (run {state}); restore it once its agent reports the run gone",
            )
    kept = []
    for row in removed.values():
        if row.drained_at is None:
            session.delete(row)
            continue
        # Drained again by whoever drained it, from when they did (the drain had a reason).
        row.state, row.changed_at, row.changed_by = "drained", row.drained_at, row.drained_by or ""
        row.drained_at = row.drained_by = None
        kept.append(KeptDrain(row.node, row.changed_by, row.changed_at))
    return list(removed), kept


# ----- jobs ------------------------------------------------------------------------------------
def submit_job(
    platform: Platform, caller: Principal, body: Any, idempotency_key: str | None
) -> Accepted:
    """Store a new job (or return the one an earlier submit with the same key stored).

    Blocks until the job's transaction committed (see `control/submits.py`)."""
    return platform.submits.submit(prepare(caller, body, idempotency_key)).result()


@dataclass(slots=True)
class JobPage:
    jobs: list[JobRow]
    next_cursor: str | None


def list_jobs(
    platform: Platform,
    caller: Principal,
    state: str | None,
    tenant: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
) -> JobPage:
    if state is not None and state not in JOB_STATES:
        raise invalid("state", f"unknown state {state!r}; valid: {', '.join(JOB_STATES)}")
    after = _decode_cursor(cursor)
    with platform.store.session() as session:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit + 1)
        if not caller.staff:
            query = query.where(JobRow.tenant == caller.tenant)
        if tenant is not None:  # for a tenant: another's name matches none of its own
            query = query.where(JobRow.tenant == tenant)
        if state is not None:
            query = query.where(JobRow.state == state)
        if name is not None:
            query = query.where(JobRow.name == name)
        if after is not None:
            query = query.where(JobRow.id < after)
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return JobPage(rows, _encode_cursor(rows[-1].id) if more and rows else None)


def _encode_cursor(job_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": job_id}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))["before"]
        if isinstance(value, int) and 0 < value < 2**31:
            return value
    except (ValueError, KeyError, TypeError):
        pass
    raise invalid("cursor", "not a cursor this server issued (use next_cursor as given)")


def _own_job(session: Session, caller: Principal, job_id: int) -> JobRow:
    row = session.get(JobRow, job_id)
    if row is None or (not caller.staff and row.tenant != caller.tenant):
        raise not_found("job")  # another tenant's job looks exactly like a missing one
    return row


@dataclass(slots=True)
class JobDetail:
    job: JobRow
    events: list[JobEventRow]
    runs: list[RunRow]
    reasons_by_site: dict[str, str]


def get_job(platform: Platform, caller: Principal, job_id: int) -> JobDetail:
    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        events = list(
            session.scalars(
                select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
            )
        )
        runs = list(
            session.scalars(select(RunRow).where(RunRow.job_id == job_id).order_by(RunRow.attempt))
        )
    reasons: dict[str, str] = {}
    if row.state == "pending":
        reasons = platform.loop.scheduler.reasons_by_site(row.id, JobSpec.model_validate(row.spec))
    return JobDetail(row, events, runs, reasons)


def cancel_job(platform: Platform, caller: Principal, job_id: int) -> JobRow:
    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        if row.state in TERMINAL_JOB_STATES:
            raise conflict("finished", f"job {job_id} already {row.state}")
        if not row.cancel_requested:
            row.cancel_requested = True
            session.add(
                JobEventRow(
                    job_id=row.id, at=time.time(), state=row.state, reason="cancel-requested"
                )
            )
    platform.loop.cancel_requested()
    return row


@dataclass(slots=True)
class LogChunk:
    text: str
    offset: int
    finished: bool


def job_logs(
    platform: Platform, caller: Principal, job_id: int, offset: int, stream: str
) -> LogChunk:
    """Output of the job's latest run (rank 0, or every rank where the engine merges them),
    from byte `offset`."""
    if stream not in ("stdout", "stderr"):
        raise invalid("stream", "stdout or stderr")
    with platform.store.session() as session:
        row = _own_job(session, caller, job_id)
        run_id = row.current_run
        finished = row.state in TERMINAL_JOB_STATES
    if run_id is None:
        return LogChunk("", 0, finished)
    # Shipped by the run's site agent, remote or embedded (control/agents.py).
    path = platform.loop.logs_dir / run_id / f"{stream}.log"
    if not path.exists():
        return LogChunk("", offset, finished)
    with open(path, "rb") as handle:
        handle.seek(max(0, offset))
        data = handle.read(1 << 20)
    return LogChunk(data.decode("utf-8", "replace"), max(0, offset) + len(data), finished)


def count_jobs(platform: Platform) -> dict[str, int]:
    with platform.store.session() as session:
        rows = session.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()
    return {state: int(n) for state, n in rows}


# ----- usage -----------------------------------------------------------------------------------
@dataclass(slots=True)
class UsageReport:
    lines: list[accounting.UsageLine]
    tenants: list[TenantRow]
    voucher_hours_used: dict[str, float]
    month_spend: dict[str, float]


def usage(
    platform: Platform,
    caller: Principal,
    tenant: str | None,
    since: float | None,
    until: float | None,
) -> UsageReport:
    if not caller.staff:
        if tenant is not None and tenant != caller.tenant:
            raise not_found("tenant")
        tenant = caller.tenant
    now = time.time()
    with platform.store.session() as session:
        lines = accounting.usage_lines(session, tenant, since, until, now)
        query = select(TenantRow).order_by(TenantRow.name)
        if tenant is not None:
            query = query.where(TenantRow.name == tenant)
        tenants = list(session.scalars(query))
        used = {t.name: accounting.voucher_hours_used(session, t.name) for t in tenants}
        spent = {t.name: accounting.month_spend(session, t.name, now) for t in tenants}
    return UsageReport(lines, tenants, used, spent)
