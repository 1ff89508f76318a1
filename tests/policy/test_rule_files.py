"""Bad rule files fail with one line per problem naming file, line and field."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from silkroute.model.errors import SpecError
from silkroute.policy.loader import RULES_DIR, load_rule_file, load_rules

GOOD = """\
jurisdiction: SG
name: Singapore
timezone: Asia/Singapore
version: "1"
reviewed: 2026-01-01
rules:
  - id: SG-PERSONAL
    data_classes: [personal, sensitive_personal, important, core]
    outcome: requires
    requires_any: [[scc], [consent]]
    legal_basis: PDPA s. 26
    source: https://sso.agc.gov.sg/Act/PDPA2012
    effective_from: 2014-07-02
  - id: SG-PUBLIC
    data_classes: [public]
    outcome: allowed
    legal_basis: personal data only
    source: https://sso.agc.gov.sg/Act/PDPA2012
    effective_from: 1970-01-01
"""


def write(tmp_path: Path, text: str, name: str = "sg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_rule_file(path)
    return str(info.value)


def test_a_good_file_loads(tmp_path: Path) -> None:
    rules = load_rule_file(write(tmp_path, GOOD))
    assert [r.id for r in rules.rules] == ["SG-PERSONAL", "SG-PUBLIC"]
    # Singapore's day starts at 16:00 UTC: the law reads its own calendar.
    assert rules.local_day(dt.datetime(2026, 12, 31, 15, 59, tzinfo=dt.UTC)) == dt.date(
        2026, 12, 31
    )
    assert rules.local_day(dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)) == dt.date(2027, 1, 1)


BAD_EDITS = [
    (
        "a time zone that does not exist",
        "timezone: Asia/Singapore",
        "timezone: Asia/Singapur",
        "sg.yaml:3: timezone:",
        "'Asia/Singapur' is not an IANA time zone",
    ),
    (
        "a misspelt mechanism names its line and place in the list",
        "[[scc], [consent]]",
        "[[scc], [consnet]]",
        "sg.yaml:10: rules[0].requires_any[1][0]:",
        "'consnet'",
    ),
    (
        "an unknown data class",
        "[public]",
        "[publc]",
        "sg.yaml:15: rules[1].data_classes[0]:",
        "'publc'",
    ),
    (
        "a missing legal basis",
        "    legal_basis: personal data only\n",
        "",
        "sg.yaml:14: rules[1].legal_basis:",
        "Field required",
    ),
    (
        "a source that is not a link",
        "source: https://sso.agc.gov.sg/Act/PDPA2012\n    effective_from: 1970",
        "source: the statute book\n    effective_from: 1970",
        "sg.yaml:18: rules[1].source:",
        "should match pattern",
    ),
    (
        "requires without mechanisms",
        "    requires_any: [[scc], [consent]]\n",
        "",
        "sg.yaml:7: rules[0]:",
        "needs requires_any",
    ),
    (
        "a rule of another jurisdiction",
        "id: SG-PUBLIC",
        "id: TH-PUBLIC",
        "sg.yaml:1: (root):",
        "must start with SG-",
    ),
    (
        "a class no rule decides",
        "[personal, sensitive_personal, important, core]",
        "[personal, sensitive_personal, important]",
        "sg.yaml:1: (root):",
        "no rule for core data",
    ),
    (
        "a gap after a rule ends",
        "    effective_from: 2014-07-02\n",
        "    effective_from: 2014-07-02\n    effective_until: 2020-01-01\n",
        "sg.yaml:1: (root):",
        "no rule decides personal data to ZZ on 2020-01-02",
    ),
    (
        "an end before the start",
        "    effective_from: 2014-07-02\n",
        "    effective_from: 2014-07-02\n    effective_until: 2010-01-01\n",
        "sg.yaml:7: rules[0]:",
        "effective_until is before effective_from",
    ),
    (
        "an unknown field (a typo of a known one)",
        "    outcome: allowed\n",
        "    outcome: allowed\n    uncertian: true\n",
        "sg.yaml:17: rules[1].uncertian:",
        "Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(
    ("sentence", "old", "new", "where", "reason"), BAD_EDITS, ids=[b[0] for b in BAD_EDITS]
)
def test_bad_files_are_named_to_the_line(
    tmp_path: Path, sentence: str, old: str, new: str, where: str, reason: str
) -> None:
    assert old in GOOD
    message = error_of(write(tmp_path, GOOD.replace(old, new, 1)))
    first = message.splitlines()[0]
    assert where in first and reason in first, message
    assert str(tmp_path) in first


def test_malformed_yaml_is_one_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("outcome: allowed", "outcome: [allowed")))
    assert "not valid YAML" in message and "line" in message
    assert len(message.splitlines()) == 1


def test_file_named_for_another_jurisdiction(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD, name="th.yaml"))
    assert "th.yaml:1: jurisdiction: is SG but the file is named for TH" in message


def test_the_shipped_rules_cover_every_jurisdiction(tmp_path: Path) -> None:
    book = load_rules()
    assert len(book.jurisdictions) == 11
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    (tmp_path / "rules" / "kh.yaml").unlink()
    with pytest.raises(SpecError, match="no rule file for KH"):
        load_rules(tmp_path / "rules")


def test_the_version_changes_with_any_edit(tmp_path: Path) -> None:
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    before = load_rules(tmp_path / "rules").version
    path = tmp_path / "rules" / "sg.yaml"
    path.write_text(path.read_text().replace("no adequacy list", "no adequacy list yet"))
    assert load_rules(tmp_path / "rules").version != before
