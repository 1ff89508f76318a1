"""One line finder for every file loader: a value is named on the line a user looks for it,
the line of its key in a mapping (`env:`, not the first line of what is under it) and the
line of its dash in a list. The job/cluster loaders and the rule-file loader each had their
own finder and named the value under a key, or the first key under a bare dash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.policy.loader import RULES_DIR


@dataclass(frozen=True)
class Located:
    name: str
    command: str  # "validate" (a job or cluster file) or "policy" (a rule file)
    text: str  # hand-written; the line numbers in `expected` are counted on it
    expected: str  # what follows `error: FILE` on the error line


JOBS = """\
jobs:
  - name: a
    tenant: t
  - name: b
    tenant: t
    env:
      - LANG=C
"""

BARE_DASH_JOBS = """\
jobs:
  - {name: a, tenant: t}
  # the next job is under a dash of its own
  -
    name: b
    workers: 2
"""

CLUSTER = """\
name: c
sites:
  - name: nanning
    country: CN
    nodes:
      - count: 0
        accelerator: H100
        accelerators: 8
  -
    name: jakarta
    country: ID
    nodes: [{count: 1}]
"""

RULES_AS_A_MAPPING = """\
jurisdiction: SG
name: Singapore
timezone: Asia/Singapore
version: "1"
reviewed: 2026-01-01
rules:
  id: SG-PERSONAL
  outcome: allowed
"""

RULE_UNDER_A_BARE_DASH = """\
jurisdiction: SG
name: Singapore
timezone: Asia/Singapur
version: "1"
reviewed: 2026-01-01
rules:
  -
    id: SG-ALL
    data_classes:
      - personal
      - publc
    outcome: allowed
    legal_basis: everything may go
    source: https://sso.agc.gov.sg/Act/PDPA2012
    effective_from: 1970-01-01
"""

CASES = [
    Located("a value given as a list where a mapping belongs is named on its key's line",
            "validate", JOBS, ":6: jobs[1].env: Input should be a valid dictionary"),
    Located("a field left out of a job under a bare dash is named on the dash's line",
            "validate", BARE_DASH_JOBS, ":4: jobs[1].tenant: Field required"),
    Located("a bad value on its own line is named on that line",
            "validate", CLUSTER, ":6: sites[0].nodes[0].count: Input should be greater than or "
            "equal to 1 (got 0)"),
    Located("a field left out of a site under a bare dash is named on the dash's line",
            "validate", CLUSTER.replace("count: 0", "count: 1").replace("    country: ID\n", ""),
            ":9: sites[1].country: Field required"),
    Located("a rule list given as a mapping is named on the line of `rules:`",
            "policy", RULES_AS_A_MAPPING, ":6: rules: Input should be a valid"),
    Located("a scalar value of a rule file is named on its line",
            "policy", RULE_UNDER_A_BARE_DASH, ":3: timezone: 'Asia/Singapur' is not an IANA "
            "time zone"),
    Located("an item of a block list is named on its dash's line",
            "policy", RULE_UNDER_A_BARE_DASH.replace("Asia/Singapur", "Asia/Singapore"),
            ":11: rules[0].data_classes[1]: Input should be"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_bad_value_is_named_on_the_line_a_user_looks_for(tmp_path: Path, case: Located) -> None:
    if case.command == "validate":
        path = tmp_path / "spec.yaml"
        args = ["validate", str(path)]
    else:
        folder = tmp_path / "rules"
        folder.mkdir()
        path = folder / "sg.yaml"
        args = ["policy", "validate", "--rules", str(folder)]
    path.write_text(case.text)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {path}{case.expected}"), result.output
    assert len(result.output.splitlines()) == 1, result.output


def test_the_shipped_rule_files_still_load() -> None:
    result = CliRunner().invoke(app, ["policy", "validate", "--rules", str(RULES_DIR)])
    assert result.exit_code == 0, result.output
