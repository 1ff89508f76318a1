"""Errors that name the field and the reason, for specs read from files, HTTP or traces.

`field_path` is the one spelling of where a value sits (`jobs[3].nodes[0].count`,
`quota["A100"]`) for every message the project prints or answers.
`read_yaml` is the one YAML reader for every file the project reads (jobs, clusters, corpus
pipelines and thresholds): a missing or malformed file is a `SpecError` naming the file and the
line; `file_spec_error` names the file, the line and the field of a value that fails
validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails


class SpecError(ValueError):
    """Bad input: the message names where (file, line, field) and why."""


# A step of a path that is a field name (every field of every spec is lower-case snake case)
# is joined with a dot; any other step, a key of a mapping (an accelerator type, a region, a
# variable name, `*`), is quoted in brackets, so `quota["A100"]` cannot be mistaken for a
# field and `price_per_accelerator_hour["A100 80GB"]` keeps its space.
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def field_path(loc: Sequence[Any], root: str = "(root)") -> str:
    """The one spelling of where a value sits, for every error message: list indices in
    brackets, field names joined with dots, other keys quoted in brackets, e.g.
    `jobs[3].nodes[0].count` or `quota["A100"]`; `root` for the value as a whole."""
    parts: list[str] = []
    for step in loc:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _FIELD_NAME.fullmatch(str(step)):
            parts.append(("." if parts else "") + str(step))
        else:
            parts.append(f"[{json.dumps(str(step), ensure_ascii=False)}]")
    return "".join(parts) or root


def reason_of(error: Mapping[str, Any]) -> str:
    """A pydantic error's reason, without the "Value error, " our own checks' messages get."""
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _shown(error: ErrorDetails) -> str:
    got = error.get("input")
    return "" if isinstance(got, dict | list | tuple) else f" (got {got!r})"


def describe_validation_error(exc: ValidationError, where: str = "") -> str:
    """One line per problem: `where: field: reason (got value)`."""
    prefix = f"{where}: " if where else ""
    return "\n".join(
        f"{prefix}{field_path(err['loc'])}: {reason_of(err)}{_shown(err)}" for err in exc.errors()
    )


def spec_error(exc: ValidationError, where: str = "") -> SpecError:
    return SpecError(describe_validation_error(exc, where))


def file_spec_error(exc: ValidationError, path: Path, prefix: Sequence[Any] = ()) -> SpecError:
    """`path:LINE: field: reason (got value)`, one line per problem. `prefix`: where the
    validated value sits in the file (e.g. `("jobs", 2)`)."""
    lines = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        lines.append(f"{file_where(path, loc)}: {field_path(loc)}: {reason_of(err)}{_shown(err)}")
    return SpecError("\n".join(lines))


def file_where(path: Path, loc: Sequence[Any]) -> str:
    """`path:LINE` of the value at `loc` (see `yaml_line`), or `path` where no line is known."""
    line = yaml_line(path, loc)
    return f"{path}:{line}" if line is not None else str(path)


def yaml_line(path: Path, loc: Sequence[Any]) -> int | None:
    """The 1-based line a user looks at for the value at `loc`: the line of its key in a
    mapping (`quota:`, not the first line of the mapping under it), the line of its dash in a
    block list; where the file lacks the value (a required field left out), the line of the
    deepest part it has. None where the file cannot be read or holds nothing.

    The one line finder of every file loader (jobs, clusters, rule files, corpus thresholds),
    so one value is never reported on two different lines."""
    try:
        text = path.read_text("utf-8")
        node = yaml.compose(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    if node is None:
        return None
    lines = text.splitlines()
    line = node.start_mark.line
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(
                ((k, v) for k, v in node.value if getattr(k, "value", None) == str(step)), None
            )
            if entry is None:
                break
            line, node = entry[0].start_mark.line, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if not 0 <= step < len(node.value):
                break
            item = node.value[step]
            line = item.start_mark.line if node.flow_style else _dash_line(lines, item)
            node = item
        else:
            break
    return line + 1


# A line that holds nothing but a block list's dash (and perhaps a comment): the item under
# it starts on a later line, but the user finds it by its dash.
_BARE_DASH = re.compile(r"\s*-(\s+#.*)?\s*")
_BLANK_OR_COMMENT = re.compile(r"\s*(#.*)?")


def _dash_line(lines: Sequence[str], item: yaml.Node) -> int:
    """The 0-based line of the dash that starts a block list's `item`."""
    line, column = item.start_mark.line, item.start_mark.column
    if line >= len(lines) or lines[line][:column].strip():
        return line  # `- name: a`: the dash is on the item's own line
    for earlier in range(line - 1, -1, -1):
        if _BARE_DASH.fullmatch(lines[earlier]):
            return earlier
        if not _BLANK_OR_COMMENT.fullmatch(lines[earlier]):
            break
    return line


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping: the second silently won, so
    `count: 2` then `count: 20` in a node group, or a rule's `outcome` twice, went unseen."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                continue  # a list or mapping as a key: the base loader refuses it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found the key {key!r} twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file; an unreadable or malformed one is a SpecError naming the file."""
    try:
        return yaml.load(path.read_text("utf-8"), Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read {what}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"{path}: {what} is not UTF-8 (byte 0x{exc.object[exc.start]:02x} on line {line}); "
            "save it as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "parse error"
        raise SpecError(f"{path}: not valid YAML: {first} ({_where(exc)})") from None
    except RecursionError:  # the parser recurses per level of nesting
        raise SpecError(f"{path}: not valid YAML: nested too deeply") from None
    except ValueError as exc:  # a date YAML reads but no calendar has: it was a traceback
        where = _bad_value_line(path)
        raise SpecError(f"{path}{where}: not valid YAML: not a date: {exc}") from None


def _bad_value_line(path: Path) -> str:
    """`:LINE` of the first date or time the YAML reader cannot build, or ''."""
    constructor = yaml.constructor.SafeConstructor()
    pending = [yaml.compose(path.read_text("utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node, deep=True)
            except ValueError:
                return f":{node.start_mark.line + 1}"
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            pending.extend(v for pair in reversed(node.value) for v in reversed(pair))
    return ""


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
