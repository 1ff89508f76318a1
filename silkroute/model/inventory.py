"""What a site's engine reports it offers: its nodes, their CPUs, memory and accelerators, and
whether each takes work. A site agent registers it (Slurm's node registration, Armada's
executor reports); the control plane compares it with the site the operator declared.

The engine can only take capacity away: a node it reports down, drained or not at all takes
no new work, and a node with fewer accelerators than declared is capped. A node it reports
beyond the declaration, or bigger, adds nothing (an operator decides capacity).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from silkroute.model.accelerators import catalogue

MAX_INVENTORY_NODES = 100_000  # as many as a declared site may have


class NodeCondition(StrEnum):
    UP = "up"  # takes work
    DRAINED = "drained"  # the engine's operator drained it (Slurm DRAIN, a cordon)
    DOWN = "down"  # not responding, failed, powered down, dead


class NodeInventory(BaseModel):
    """One node as the engine reports it. `accelerator`: its type as the engine names it,
    made canonical where the catalogue knows it; None where the engine does not say (Slurm's
    untyped `gpu:2`, Ray without `accelerator_type:*`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
    cpus: float = Field(ge=0, le=1_000_000)
    memory_gib: float = Field(ge=0, le=1_000_000_000)
    accelerator: str | None = Field(default=None, min_length=1, max_length=64)
    accelerators: int = Field(default=0, ge=0, le=1024)
    state: NodeCondition = NodeCondition.UP
    reason: str = Field(default="", max_length=512)

    @field_validator("accelerator")
    @classmethod
    def _canonical_type(cls, value: str | None) -> str | None:
        return None if value is None else catalogue().canonical(value)

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str) -> str:
        return value.replace("\x00", "")


class SiteInventory(BaseModel):
    """Every node the engine knows (in the partition or cluster the agent serves)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field(min_length=1, max_length=32)
    nodes: list[NodeInventory] = Field(max_length=MAX_INVENTORY_NODES)

    @field_validator("nodes")
    @classmethod
    def _unique_names(cls, nodes: list[NodeInventory]) -> list[NodeInventory]:
        seen: set[str] = set()
        for node in nodes:
            if node.name in seen:
                raise ValueError(f"node {node.name!r} appears twice")
            seen.add(node.name)
        return nodes

    def node(self, name: str) -> NodeInventory | None:
        return next((n for n in self.nodes if n.name == name), None)


def inventory_error(exc: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """The first problem of an invalid inventory: (where, reason), e.g.
    (("inventory", "nodes", 1, "cpus"), "Input should be greater than or equal to 0")."""
    first = exc.errors()[0]
    return ("inventory", *first["loc"]), str(first["msg"]).splitlines()[0]
