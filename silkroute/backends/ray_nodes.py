"""Ray's nodes as a site inventory, from the state API's node list (`ray list nodes`).

- name: the node's `node_label` label (`ray start --labels=silkroute.io/node=<name>`, the
  names placements pin to), else `<node_name>-<first 8 of node_id>` (Ray names a node by its
  IP, which several nodes on one host share);
- CPUs, memory, accelerators: `resources_total` (`CPU`, `memory` in bytes, `GPU`), the type
  from an `accelerator_type:<TYPE>` resource where Ray detected one;
- state: ALIVE is up, anything else (DEAD) down. A node that restarted appears twice (a
  dead id and a live one): the live one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from silkroute.model.inventory import NodeCondition, NodeInventory

_PREFIX = "accelerator_type:"


def parse_nodes(rows: Iterable[Any], node_label: str) -> list[NodeInventory]:
    found: dict[str, NodeInventory] = {}
    for row in rows:
        node = _node(_as_dict(row), node_label)
        known = found.get(node.name)
        if known is None or (
            known.state is not NodeCondition.UP and node.state is NodeCondition.UP
        ):
            found[node.name] = node
    return sorted(found.values(), key=lambda n: n.name)


def _node(row: Mapping[str, Any], node_label: str) -> NodeInventory:
    labels = row.get("labels") or {}
    node_id = str(row.get("node_id") or "")
    name = labels.get(node_label) or f"{row.get('node_name') or 'node'}-{node_id[:8]}"
    resources = row.get("resources_total") or {}
    types = [k[len(_PREFIX) :] for k in resources if k.startswith(_PREFIX)]
    alive = str(row.get("state") or "").upper() == "ALIVE"
    return NodeInventory(
        name=str(name)[:128],
        cpus=_number(resources.get("CPU")),
        memory_gib=round(_number(resources.get("memory")) / 2**30, 3),
        accelerator=types[0] if len(types) == 1 else None,
        accelerators=int(_number(resources.get("GPU"))),
        state=NodeCondition.UP if alive else NodeCondition.DOWN,
        reason="" if alive else str(row.get("state_message") or row.get("state") or "")[:512],
    )


def _as_dict(row: Any) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    return {k: getattr(row, k, None) for k in ("node_id", "node_name", "state", "state_message",
                                                 "resources_total", "labels")}  # fmt: skip


def _number(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0
