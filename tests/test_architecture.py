"""The package's rooms keep their doors: an AST check of who may import what.

- `model` (domain types) imports nothing else of ours.
- `scheduler` (pure decisions) imports no simulator, store, HTTP framework, execution back
  end, clock or I/O, and calls no clock: the same code must run under any driver.
- `corpus` does not import `scheduler`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "silkroute"

# Our rooms that the scheduler must not enter, and outside modules that mean I/O or a clock.
SCHEDULER_FORBIDDEN_OURS = ("sim", "store", "api", "agent", "backends", "corpus", "cli", "console")
SCHEDULER_FORBIDDEN_MODULES = {
    # clock
    "time", "datetime", "zoneinfo",
    # I/O: files, processes, network, logging
    "io", "os", "pathlib", "shutil", "tempfile", "glob", "subprocess", "socket", "select",
    "asyncio", "logging", "urllib", "http", "json", "yaml", "csv", "pickle", "shelve",
    # stores and HTTP frameworks
    "sqlite3", "sqlalchemy", "alembic", "psycopg", "psycopg2", "redis", "fastapi",
    "starlette", "uvicorn", "flask", "aiohttp", "requests", "httpx", "pydantic",
}  # fmt: skip
SCHEDULER_FORBIDDEN_CALLS = {"open", "print", "input"}


def _modules(room: str) -> list[Path]:
    return sorted((PACKAGE / room).rglob("*.py"))


def _imports(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import, type-checking-only ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join([*base, node.module or ""]).rstrip(".")))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def _ours(module: str) -> str | None:
    """The room of one of our modules (`silkroute.sim.engine` -> `sim`), else None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "silkroute" and len(parts) > 1 else None


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def model_violations() -> list[str]:
    return [
        f"{_where(path, line)} imports {module}"
        for path in _modules("model")
        for line, module in _imports(path)
        if _ours(module) not in (None, "model")
    ]


def scheduler_violations() -> list[str]:
    out = []
    for path in _modules("scheduler"):
        for line, module in _imports(path):
            if _ours(module) in SCHEDULER_FORBIDDEN_OURS:
                out.append(f"{_where(path, line)} imports {module}")
            elif module.split(".")[0] in SCHEDULER_FORBIDDEN_MODULES:
                out.append(f"{_where(path, line)} imports {module} (clock, I/O or store)")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in SCHEDULER_FORBIDDEN_CALLS:
                out.append(f"{_where(path, node.lineno)} calls {func.id}()")
            if isinstance(func, ast.Attribute) and func.attr in ("now", "utcnow", "today"):
                out.append(f"{_where(path, node.lineno)} reads a clock (.{func.attr}())")
    return out


def corpus_violations() -> list[str]:
    return [
        f"{_where(path, line)} imports {module}"
        for path in _modules("corpus")
        for line, module in _imports(path)
        if _ours(module) == "scheduler"
    ]


@pytest.mark.parametrize(
    ("rule", "check"),
    [
        ("model imports nothing else of ours", model_violations),
        ("scheduler imports no sim, store, HTTP, clock or I/O", scheduler_violations),
        ("corpus does not import scheduler", corpus_violations),
    ],
)
def test_import_rules_hold(rule: str, check: object) -> None:
    assert callable(check)
    assert check() == [], rule


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "silkroute" / "scheduler" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("import time\nfrom ..sim import engine\nfrom silkroute.store import db\n")
    found = [module for _, module in _imports(bad, root=tmp_path)]
    assert found == ["time", "silkroute.sim", "silkroute.store"]
    # A relative import resolves against its package, so `..sim` is caught as sim:
    assert _ours("silkroute.sim") == "sim" and _ours("numpy") is None
