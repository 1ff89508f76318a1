"""The declared site against what its engine reports (`model.inventory`): which declared
nodes the engine takes away, and which it caps.

An operator decides capacity; an engine can only take it away. Each declared node is paired
with one engine node: by name where the operator named the nodes as the engine does
(`name_prefix`, e.g. Slurm's `n1` ...), else in order, engine nodes sorted by name, first
those of the node's accelerator type, then those whose type the engine does not say. Then:

- engine node down or drained: the declared node is drained ("engine reports node X down");
- no engine node for it: drained ("engine reports no node for it");
- fewer accelerators than declared: capped to the engine's count;
- engine nodes left over, more accelerators, CPUs or memory than declared: shown, never used.

Pure: no store, no clock. The live loop applies the result through the same drains as an
operator's (`node_states`), the API shows it (`GET /v1/agents`, `GET /v1/nodes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from silkroute.control.scheduling import NodeName, node_names
from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import SiteSpec
from silkroute.model.inventory import NodeCondition, NodeInventory, SiteInventory


@dataclass(slots=True)
class InventoryDiff:
    """What one site's engine takes away from its declaration, and what it reports beyond."""

    site: str
    drained: dict[str, str] = field(default_factory=dict)  # declared node -> reason
    capped: dict[str, tuple[int, int]] = field(default_factory=dict)  # node -> (declared, engine)
    matched: dict[str, str] = field(default_factory=dict)  # declared node -> engine node
    undeclared: list[str] = field(default_factory=list)  # engine nodes nothing was paired with
    notes: list[str] = field(default_factory=list)  # differences that change nothing

    def differences(self) -> list[str]:
        """One line per difference, for people (CLI, logs)."""
        lines = [f"{node}: drained, {reason}" for node, reason in sorted(self.drained.items())]
        lines += [
            f"{node}: capped to {engine} of {declared} accelerators"
            f" (engine node {self.matched.get(node, '?')})"
            for node, (declared, engine) in sorted(self.capped.items())
        ]
        if self.undeclared:
            lines.append(
                f"engine nodes not declared (not used): {', '.join(sorted(self.undeclared))}"
            )
        return lines + self.notes

    def as_json(self) -> dict[str, Any]:
        return {
            "drained": dict(sorted(self.drained.items())),
            "capped": {
                node: {"declared": declared, "engine": engine}
                for node, (declared, engine) in sorted(self.capped.items())
            },
            "matched": dict(sorted(self.matched.items())),
            "undeclared": sorted(self.undeclared),
            "differences": self.differences(),
        }


def compare(spec: SiteSpec, inventory: SiteInventory) -> InventoryDiff:
    declared = [n for n in node_names([spec]) if n.site == spec.name]
    diff = InventoryDiff(spec.name)
    pairs = _pair(declared, inventory.nodes)
    groups = {n.node: g for n, g in zip(declared, _group_of_each(spec), strict=True)}
    for node in declared:
        engine = pairs.get(node.node)
        if engine is None:
            diff.drained[node.node] = (
                f"engine reports no node for it ({len(inventory.nodes)} engine node(s) "
                f"for {len(declared)} declared)"
            )
            continue
        diff.matched[node.node] = engine.name
        if engine.state is NodeCondition.DOWN:
            diff.drained[node.node] = _why(f"engine reports node {engine.name} down", engine)
        elif engine.state is NodeCondition.DRAINED:
            diff.drained[node.node] = _why(f"engine reports node {engine.name} drained", engine)
        if node.accelerators and engine.accelerators < node.accelerators:
            diff.capped[node.node] = (node.accelerators, engine.accelerators)
        group = groups[node.node]
        if engine.cpus < group.cpu or engine.memory_gib < group.memory_gib:
            diff.notes.append(
                f"{node.node}: engine node {engine.name} has {engine.cpus:g} CPUs and "
                f"{engine.memory_gib:g} GiB, declared {group.cpu:g} and {group.memory_gib:g} "
                "(not capped)"
            )
    used = set(diff.matched.values())
    diff.undeclared = sorted(n.name for n in inventory.nodes if n.name not in used)
    return diff


def _why(what: str, engine: NodeInventory) -> str:
    return f"{what}: {engine.reason}" if engine.reason else what


def _group_of_each(spec: SiteSpec) -> list[Any]:
    return [group for group in spec.nodes for _ in range(group.count)]


def _pair(declared: list[NodeName], engine: list[NodeInventory]) -> dict[str, NodeInventory]:
    """Each declared node's engine node: same name first, then in order (see the module)."""
    by_name = {n.name: n for n in engine}
    pairs = {d.node: by_name[d.node] for d in declared if d.node in by_name}
    taken = {p.name for p in pairs.values()}
    free = sorted((n for n in engine if n.name not in taken), key=lambda n: n.name)
    rest = [d for d in declared if d.node not in pairs]
    known = set(catalogue().names())
    for typed in (True, False):
        for node in rest:
            if node.node in pairs:
                continue
            wanted = node.accelerator if node.accelerators else None
            for candidate in free:
                # A type the engine names and the catalogue knows must be the declared one;
                # no type, or one the catalogue does not know, says nothing either way.
                says = candidate.accelerators > 0 and candidate.accelerator in known
                if typed != says or (typed and candidate.accelerator != wanted):
                    continue
                pairs[node.node] = candidate
                free.remove(candidate)
                break
    return pairs


def parse_stored(raw: Mapping[str, Any] | None) -> SiteInventory | None:
    """A stored inventory (the agent row's JSON); None where none was registered or it no
    longer reads (it was checked when it came in)."""
    if not raw or "nodes" not in raw:
        return None
    try:
        return SiteInventory.model_validate({k: v for k, v in raw.items() if k != "reported_at"})
    except ValidationError:
        return None


def engine_node_states(
    sites: Iterable[SiteSpec], inventories: Mapping[str, SiteInventory]
) -> tuple[dict[str, str], dict[str, int], dict[str, InventoryDiff]]:
    """Over every site with a registered inventory: drained nodes (-> reason), accelerator
    caps (node -> count) and each site's diff."""
    drained: dict[str, str] = {}
    caps: dict[str, int] = {}
    diffs: dict[str, InventoryDiff] = {}
    for spec in sites:
        inventory = inventories.get(spec.name)
        if inventory is None:
            continue
        diff = compare(spec, inventory)
        diffs[spec.name] = diff
        drained.update(diff.drained)
        caps.update({node: engine for node, (_, engine) in diff.capped.items()})
    return drained, caps, diffs
