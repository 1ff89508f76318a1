"""Policy memory that outlives a step: kept in the book, carried by its snapshot.

Two kinds:

- `ArrivalShapes`: the demand shapes of the jobs that entered the book, each job counted once
  when it arrives (with its workers: a gang of four is four tasks of its shape). The book
  keeps it whatever policy runs; `fgd` and `silk` read their learnt target workload from it
  when none is given. So the target depends on the arrivals only, not on how often the
  scheduler scored a node (what-if placements included).
- `PolicyMemory`: whatever one policy remembers between steps (Gavel's time shares and LP
  plan, gpuclustering's node tags, the random scorer's generator), under the policy's name in
  `book.memory`. Each kind serialises itself (`to_dict`) and is loaded back with the rebuilt
  book in hand (`load`), so it can point at the rebuilt book's job records again.

What a policy does during a what-if placement (EASY reservations, the preemption search) must
leave its memory as it was: `NodeScorer.what_if` brackets those calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import Shape, TargetWorkload

if TYPE_CHECKING:
    from silkroute.scheduler.book import SchedulerBook

# Distinct shapes remembered; beyond it the rarest are forgotten (a server that runs for months
# sees ever more distinct requests, while FGD's target keeps only the popular ones anyway).
ARRIVAL_SHAPES_LIMIT = 10_000
# The learnt target is rebuilt at 1, 2, 4 ... 1024 tasks, then every 1024: cheap, and stable
# once the workload is known.
TARGET_EVERY = 1024


def _milestone(tasks: int) -> int:
    """The last task count at which the learnt target was rebuilt."""
    if tasks >= TARGET_EVERY:
        return tasks - tasks % TARGET_EVERY
    return 1 << (tasks.bit_length() - 1) if tasks else 0


class ArrivalShapes:
    """Per-worker demands of the jobs that arrived, counted once per job (x its workers)."""

    def __init__(self) -> None:
        self.counts: Counter[Demand] = Counter()
        self.tasks = 0
        # The counts the current target was built from (a copy taken at each milestone).
        self._basis: Counter[Demand] = Counter()
        self._target: TargetWorkload | None = None

    def arrived(self, demand: Demand, workers: int) -> None:
        before = self.tasks
        self.counts[demand] += workers
        self.tasks += workers
        if len(self.counts) > ARRIVAL_SHAPES_LIMIT:
            self._forget_rarest()
        if _milestone(self.tasks) != _milestone(before):
            self._basis = self.counts.copy()
            self._target = None  # rebuilt when next read

    def target(self) -> TargetWorkload | None:
        """FGD's target workload from the arrivals (None before any): the same object until
        the next milestone, so scorers may key caches on it."""
        if self._target is None and self._basis:
            shapes: Counter[Shape] = Counter()
            mem: Counter[Shape] = Counter()
            for demand, n in self._basis.items():
                shapes[Shape.of(demand)] += n
                mem[Shape.of(demand)] += demand.mem_mib * n
            memory = {shape: mem[shape] / n for shape, n in shapes.items()}
            self._target = TargetWorkload.from_counts(shapes, memory=memory)
        return self._target

    def _forget_rarest(self) -> None:
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], _demand_key(kv[0])))
        self.counts = Counter(dict(ranked[: ARRIVAL_SHAPES_LIMIT // 2]))

    # ----- saving ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "counts": [[*_demand_key(d), n] for d, n in self.counts.items()],
            "basis": [[*_demand_key(d), n] for d, n in self._basis.items()],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ArrivalShapes:
        shapes = ArrivalShapes()
        shapes.tasks = int(data["tasks"])
        shapes.counts = _counts(data["counts"])
        shapes._basis = _counts(data["basis"])
        return shapes

    @staticmethod
    def of_jobs(jobs: list[tuple[Demand, int]]) -> ArrivalShapes:
        """Re-derived from the jobs a book holds (a snapshot that kept no arrivals)."""
        shapes = ArrivalShapes()
        for demand, workers in jobs:
            shapes.arrived(demand, workers)
        return shapes


def _demand_key(d: Demand) -> tuple[int, int, int, int]:
    return (d.gpu_slots, d.gpu_milli, d.cpu_milli, d.mem_mib)


def _counts(rows: list[list[int]]) -> Counter[Demand]:
    return Counter({Demand(*(int(x) for x in row[:4])): int(row[4]) for row in rows})


M = TypeVar("M", bound="PolicyMemory")


class PolicyMemory(ABC):
    """What one policy remembers between steps. Subclasses set `kind` (a stable name, what a
    snapshot records) and are registered by it when their module is imported."""

    kind: ClassVar[str]
    kinds: ClassVar[dict[str, type[PolicyMemory]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            PolicyMemory.kinds[cls.kind] = cls

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""

    @classmethod
    @abstractmethod
    def load(cls, data: Mapping[str, Any], book: SchedulerBook) -> Self:
        """The memory back from `to_dict`'s values, in the rebuilt `book`."""


class PolicyMemories:
    """The book's policy memory, by policy name."""

    def __init__(self, book: SchedulerBook | None = None) -> None:
        self._book = book
        self._live: dict[str, PolicyMemory] = {}
        # Saved memory of a kind that was not imported when the book was rebuilt: kept (and
        # saved again) until its policy asks for it.
        self._unknown: dict[str, dict[str, Any]] = {}

    def get(self, name: str, kind: type[M], fresh: Callable[[], M]) -> M:
        """`name`'s memory; `fresh()` the first time it is asked for."""
        memory = self._live.get(name)
        if memory is None:
            saved = self._unknown.pop(name, None)
            if saved is not None and saved.get("kind") == kind.kind and self._book is not None:
                memory = kind.load(saved.get("data") or {}, self._book)
            else:
                memory = fresh()
            self._live[name] = memory
        if not isinstance(memory, kind):
            raise TypeError(f"policy memory {name!r} is a {memory.kind}, not a {kind.kind}")
        return memory

    def to_dict(self) -> dict[str, dict[str, Any]]:
        saved = dict(self._unknown)
        for name, memory in self._live.items():
            saved[name] = {"kind": memory.kind, "data": memory.to_dict()}
        return saved

    @staticmethod
    def load(saved: Mapping[str, Mapping[str, Any]], book: SchedulerBook) -> PolicyMemories:
        memories = PolicyMemories(book)
        for name, entry in saved.items():
            kind = PolicyMemory.kinds.get(str(entry.get("kind")))
            if kind is None:
                memories._unknown[name] = dict(entry)
            else:
                memories._live[name] = kind.load(entry.get("data") or {}, book)
        return memories
