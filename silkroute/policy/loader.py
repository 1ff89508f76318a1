"""Read the rule files. Every problem is one line: `FILE:LINE: field: reason (got value)`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from silkroute.model.errors import SpecError, file_spec_error, file_where, read_yaml
from silkroute.policy.engine import RuleBook
from silkroute.policy.operator import OperatorPolicies
from silkroute.policy.rules import JurisdictionRules
from silkroute.policy.vocabulary import JURISDICTIONS

RULES_DIR = Path(__file__).parent / "rules"


def load_rule_file(path: Path) -> JurisdictionRules:
    raw = read_yaml(path, "rule file")
    if not isinstance(raw, dict):
        raise SpecError(f"{path}:1: (root): a rule file is a mapping with jurisdiction and rules")
    try:
        parsed = JurisdictionRules.model_validate(raw)
    except ValidationError as exc:
        raise file_spec_error(exc, path) from None
    expected = path.stem.upper()
    if parsed.jurisdiction != expected:
        raise SpecError(
            f"{file_where(path, ('jurisdiction',))}: jurisdiction: "
            f"is {parsed.jurisdiction} but the file is named for {expected}"
        )
    return parsed


def load_rules(directory: Path = RULES_DIR, require_all: bool = True) -> RuleBook:
    """Every `*.yaml` in `directory`; with `require_all`, CN and the ten ASEAN states."""
    files = sorted(directory.glob("*.yaml"))
    if not files:  # a mistyped --rules folder would otherwise validate as "0 rules"
        if directory.is_dir():
            why = "in this folder"
        elif directory.exists():  # it said "the folder does not exist" of a file
            why = "(it is a file; give the folder of rule files)"
        else:
            why = "(the folder does not exist)"
        raise SpecError(f"{directory}: no rule files (*.yaml) {why}")
    parsed = [load_rule_file(p) for p in files]
    found = {r.jurisdiction for r in parsed}
    missing = sorted(set(JURISDICTIONS) - found)
    if require_all and missing:
        raise SpecError(f"{directory}: no rule file for {', '.join(missing)}")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    version = "+".join(f"{r.jurisdiction}@{r.version}" for r in parsed)
    return RuleBook(parsed, version=f"{version}#{digest.hexdigest()[:12]}")


def load_operator_policies(path: Path, site_countries: Mapping[str, str]) -> OperatorPolicies:
    """Operators' Cedar file; a bad one is one line naming the file."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read operator policies: {exc.strerror}") from None
    try:
        return OperatorPolicies(text, site_countries)
    except ValueError as exc:
        raise SpecError(f"{path}: {exc}") from None
