"""The accelerator catalogue: what each accelerator type is, loaded from a data file."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True, slots=True)
class AcceleratorType:
    name: str
    vendor: str
    memory_gib: float | None
    bf16_tflops: float | None
    precision: str
    source: str
    known: bool = True


class Catalogue:
    """Accelerator types by canonical name, with the aliases traces use."""

    def __init__(self, types: dict[str, AcceleratorType], aliases: dict[str, str]) -> None:
        self._types = types
        self._aliases = {k.lower(): v for k, v in aliases.items()}
        self._aliases.update({k.lower(): k for k in types})

    def names(self) -> list[str]:
        return sorted(self._types)

    def canonical(self, name: str) -> str:
        """The catalogue name of `name`; unknown names (trace codes G1, G2...) stay as they are."""
        return self._aliases.get(name.lower(), name)

    def get(self, name: str) -> AcceleratorType:
        canonical = self.canonical(name)
        found = self._types.get(canonical)
        if found is not None:
            return found
        # Traces hide some types behind codes; keep them schedulable but flag them unknown.
        return AcceleratorType(
            canonical, "unknown", None, None, "unknown", "not in catalogue", False
        )


@cache
def catalogue() -> Catalogue:
    text = resources.files("silkroute.model").joinpath("data/accelerators.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    types = {
        name: AcceleratorType(
            name=name,
            vendor=str(entry["vendor"]),
            memory_gib=entry.get("memory_gib"),
            bf16_tflops=entry.get("bf16_tflops"),
            precision=str(entry.get("precision", "bf16")),
            source=str(entry["source"]),
        )
        for name, entry in raw["accelerators"].items()
    }
    return Catalogue(types, dict(raw.get("aliases", {})))
