"""Slurm's nodes as a site inventory: `scontrol -o show node`, one line per node.

- CPUs: `CPUTot`; memory: `RealMemory` (MiB); accelerators: `Gres=gpu[:TYPE]:N[(S:...)]`,
  several comma-separated entries summed (one type if they agree, else none).
- State: a base state and `+FLAGS` (`IDLE+DRAIN`, `MIXED+DRAIN`, `DOWN*+DRAIN`, ...); `*`
  means not responding. DOWN, FAIL, FUTURE, NOT_RESPONDING, POWERED_DOWN, INVALID, UNKNOWN
  or `*` read as down; DRAIN/DRAINING/DRAINED as drained; everything else (IDLE, MIXED,
  ALLOCATED, COMPLETING, RESERVED, ...) as up. `Reason` is kept.
- With a partition, only its nodes (`Partitions=`).
"""

from __future__ import annotations

from silkroute.backends.slurm import _fields
from silkroute.model.inventory import NodeCondition, NodeInventory

_DOWN = {
    "DOWN",
    "FAIL",
    "FAILING",
    "FUTURE",
    "NOT_RESPONDING",
    "NO_RESPOND",
    "POWERED_DOWN",
    "POWER_DOWN",
    "POWERING_DOWN",
    "INVALID",
    "INVALID_REG",
    "UNKNOWN",
}
_DRAINED = {"DRAIN", "DRAINING", "DRAINED"}


def parse_nodes(text: str, partition: str | None = None) -> list[NodeInventory]:
    nodes = []
    for line in text.splitlines():
        if not line.startswith("NodeName="):
            continue
        fields = _fields(line)
        if partition is not None and partition not in fields.get("Partitions", "").split(","):
            continue
        accelerator, count = gpus(fields.get("Gres", ""))
        state, reason = condition(fields.get("State", "UNKNOWN")), fields.get("Reason", "")
        nodes.append(
            NodeInventory(
                name=fields["NodeName"],
                cpus=float(fields.get("CPUTot") or 0),
                memory_gib=round(float(fields.get("RealMemory") or 0) / 1024, 3),
                accelerator=accelerator,
                accelerators=count,
                state=state,
                reason=reason[:512] if state is not NodeCondition.UP else "",
            )
        )
    return nodes


def gpus(gres: str) -> tuple[str | None, int]:
    """`gpu:2`, `gpu:a100:4(S:0-1)`, `gpu:a100:2,gpu:t4:1`, `(null)` -> (type, count)."""
    types: set[str | None] = set()
    total = 0
    for entry in gres.split(","):
        parts = entry.split("(", 1)[0].strip().split(":")
        if parts[0] != "gpu" or len(parts) < 2:
            continue
        try:
            count = int(parts[-1])
        except ValueError:
            continue
        total += count
        types.add(parts[1] if len(parts) >= 3 else None)
    kind = types.pop() if len(types) == 1 else None
    return (kind if total else None), total


def condition(state: str) -> NodeCondition:
    words = {w.rstrip("*~#%!$@^-") for w in state.upper().split("+")}
    if "*" in state or words & _DOWN:
        return NodeCondition.DOWN
    if words & _DRAINED:
        return NodeCondition.DRAINED
    return NodeCondition.UP
