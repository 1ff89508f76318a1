"""Where each dataset's copies sit: one answer, from the two records that say so.

A site's declaration lists the datasets it holds (`SiteSpec.datasets`, set by `POST
/v1/sites` and `PATCH /v1/sites/{site}`); a registered dataset lists the sites holding a copy
(`POST /v1/datasets`, `sites`). Each party knows its own side: an operator what its site
holds, a dataset's owner where it put copies. So a copy sits at a site when either record
says so (as HDFS answers "where are the blocks" from every datanode's report), and each copy
keeps which record(s) said so. Everything that places work by data locality (the live loop's
book, the submit check's schedulers) and everything that shows copies (`GET /v1/datasets`,
`GET /v1/sites`, `explain`) reads them from here.

Never an input of the data law: that goes by the dataset's origin and class and the site's
country, wherever a copy sits (docs/governance.md, "Where data goes").

A retired dataset has no copies here, by either record: no new job reads it, so its copies
draw no work to their sites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkroute.model.cluster import SiteSpec
from silkroute.store.models import DatasetRow, SiteRow

# Which record says a copy is there: the site's declaration, or the dataset's registration.
SITE = "site"
DATASET = "dataset"

Copies = dict[str, frozenset[str]]  # dataset -> the sites holding a copy


@dataclass(frozen=True, slots=True)
class Copy:
    site: str
    recorded_by: tuple[str, ...]  # SITE and/or DATASET, in that order

    def json(self) -> dict[str, object]:
        return {"site": self.site, "recorded_by": list(self.recorded_by)}


def registered(session: Session, names: Iterable[str] | None = None) -> Copies:
    """Dataset -> sites, as the registered datasets (`names`, default all) that are not
    retired list them."""
    query = select(DatasetRow.name, DatasetRow.sites).where(DatasetRow.retired_at.is_(None))
    if names is not None:
        query = query.where(DatasetRow.name.in_(sorted(set(names))))
    return {name: frozenset(sites) for name, sites in session.execute(query) if sites}


def retired(session: Session) -> frozenset[str]:
    """The retired datasets' names: a site's declaration of one holds no copy either."""
    query = select(DatasetRow.name).where(DatasetRow.retired_at.is_not(None))
    return frozenset(session.scalars(query))


def declared(specs: Iterable[SiteSpec], gone: frozenset[str] = frozenset()) -> Copies:
    """Dataset -> sites, as the sites' declarations list them (less the `gone` datasets)."""
    out: dict[str, set[str]] = {}
    for spec in specs:
        for name in spec.datasets:
            if name in gone:
                continue
            out.setdefault(name, set()).add(spec.name)
    return {name: frozenset(sites) for name, sites in out.items()}


def stored_sites(session: Session) -> list[SiteSpec]:
    return [
        SiteSpec.model_validate(r.spec)
        for r in session.scalars(select(SiteRow).order_by(SiteRow.name))
    ]


@dataclass(frozen=True, slots=True)
class Held:
    """A copy as a site's view shows it: the dataset, and the record(s) that say so."""

    dataset: str
    recorded_by: tuple[str, ...]  # SITE and/or DATASET, in that order

    def json(self) -> dict[str, object]:
        return {"dataset": self.dataset, "recorded_by": list(self.recorded_by)}


def recorded(by_site: Copies, by_dataset: Copies) -> dict[str, dict[str, tuple[str, ...]]]:
    """Dataset -> site -> the record(s) saying a copy is there (both sorted by name): the one
    join of the two records that every view of the copies reads."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for name in sorted(by_site.keys() | by_dataset.keys()):
        at_sites, listed = by_site.get(name, frozenset()), by_dataset.get(name, frozenset())
        records = ((SITE, at_sites), (DATASET, listed))
        out[name] = {
            site: tuple(r for r, holds in records if site in holds)
            for site in sorted(at_sites | listed)
        }
    return out


def copies_of(session: Session, names: Iterable[str]) -> dict[str, list[Copy]]:
    """Each named dataset's copies, by site name, each with the record(s) that say so."""
    wanted = list(dict.fromkeys(names))
    by_site = declared(stored_sites(session), retired(session))
    joined = recorded(by_site, registered(session, wanted))
    return {
        name: [Copy(site, says) for site, says in joined.get(name, {}).items()] for name in wanted
    }


def held_at(session: Session, specs: Sequence[SiteSpec]) -> dict[str, list[Held]]:
    """Each site's copies (of `specs`, as stored), by dataset name, each with the record(s)
    that say so: the same answer as `copies_of`, seen from the site."""
    names = {spec.name for spec in specs}
    by_dataset = {name: at for name, sites in registered(session).items() if (at := sites & names)}
    out: dict[str, list[Held]] = {spec.name: [] for spec in specs}
    for name, where in recorded(declared(specs, retired(session)), by_dataset).items():
        for site, says in where.items():
            out[site].append(Held(name, says))
    return out


def with_copies(
    specs: Iterable[SiteSpec],
    copies: Mapping[str, Iterable[str]],
    gone: frozenset[str] = frozenset(),
) -> list[SiteSpec]:
    """The sites as placement sees them: each one's `datasets` is what it declares, less the
    `gone` (retired) datasets, then the registered datasets that list it among their copies
    (`copies`: dataset -> sites)."""
    at: dict[str, set[str]] = {}
    for name, sites in copies.items():
        for site in sites:
            at.setdefault(site, set()).add(name)
    out = []
    for spec in specs:
        kept = [name for name in spec.datasets if name not in gone]
        extra = sorted(at.get(spec.name, set()) - set(kept))
        held = [*kept, *extra]
        changed = bool(extra) or len(kept) != len(spec.datasets)
        out.append(spec.model_copy(update={"datasets": held}) if changed else spec)
    return out


def placement_sites(session: Session) -> list[SiteSpec]:
    """Every stored site, its `datasets` holding every copy there (declared or registered) of
    a dataset not retired."""
    return with_copies(stored_sites(session), registered(session), retired(session))
