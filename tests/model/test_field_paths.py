"""One spelling of where a value sits, in every message: list indices in brackets, field names
joined with dots, other keys quoted in brackets (`jobs[3].nodes[0].count`, `quota["A100"]`).
They were `nodes.0.count` in some messages and `nodes[0].count` in others."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.corpus.errors import CorpusError
from silkroute.corpus.pipeline.config import load_config
from silkroute.model.errors import SpecError, describe_validation_error, field_path
from silkroute.model.tenant import MAX_QUOTA_ACCELERATORS, TenantSpec
from silkroute.policy.loader import load_rule_file


@dataclass(frozen=True)
class Spelling:
    name: str
    loc: tuple[str | int, ...]
    spelt: str


PATHS = [
    Spelling("a field of a list item inside a list item", ("jobs", 3, "nodes", 0, "count"),
             "jobs[3].nodes[0].count"),
    Spelling("an accelerator type, a key of a map", ("quota", "A100"), 'quota["A100"]'),
    Spelling("every type, a key that is no name", ("quota", "*"), 'quota["*"]'),
    Spelling("a key holding a space", ("sites", 0, "price_per_accelerator_hour", "A100 80GB"),
             'sites[0].price_per_accelerator_hour["A100 80GB"]'),
    Spelling("a key holding a quote, escaped as JSON escapes it", ("env", 'A"B'), 'env["A\\"B"]'),
    Spelling("a key in another script, kept readable", ("latency_ms", "東京"),
             'latency_ms["東京"]'),
    Spelling("a list inside a list", ("rules", 0, "requires_any", 1, 0),
             "rules[0].requires_any[1][0]"),
    Spelling("a list at the top", (2, "name"), "[2].name"),
    Spelling("a lower-case key reads as a field name would", ("latency_ms", "jakarta"),
             "latency_ms.jakarta"),
    Spelling("nothing: the value as a whole", (), "(root)"),
]  # fmt: skip


@pytest.mark.parametrize("case", PATHS, ids=lambda c: c.name)
def test_a_path_is_spelt_one_way(case: Spelling) -> None:
    assert field_path(case.loc) == case.spelt


@dataclass(frozen=True)
class BadFile:
    name: str
    text: str
    line: str  # the whole first line of the error, after `error: FILE`


BAD_FILES = [
    BadFile(
        "a job file: a key of the job's environment",
        "name: a\ntenant: t\nenv:\n  PATH: /bin\n  LANG: [C]\n",
        ':5: env["LANG"]: Input should be a valid string',
    ),
    BadFile(
        "a job file: the second job of a list",
        "jobs:\n  - {name: a, tenant: t}\n"
        "  - {name: b, tenant: t, accelerator_types: {H100: true}}\n",
        ':3: jobs[1].accelerator_types["H100"]: must be a number, not a boolean (true/false)',
    ),
    BadFile(
        "a cluster file: a node group of a site",
        "sites:\n  - name: a\n    country: SG\n"
        "    nodes:\n      - {count: 1}\n      - {count: 0}\n",
        ":6: sites[0].nodes[1].count: Input should be greater than or equal to 1 (got 0)",
    ),
    BadFile(
        "a cluster file: a region's latency",
        "sites:\n  - name: a\n    country: SG\n    nodes: [{count: 1}]\n"
        "    latency_ms: {MY: 2.0e+9}\n",
        ':5: sites[0].latency_ms["MY"]: Input should be less than or equal to 1000000 '
        "(got 2000000000.0)",
    ),
]


@pytest.mark.parametrize("case", BAD_FILES, ids=lambda c: c.name)
def test_a_file_loader_names_the_exact_path(tmp_path: Path, case: BadFile) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(case.text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0] == f"error: {path}{case.line}", result.output


def test_a_pipeline_file_names_a_stage_parameter_as_the_job_files_do(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "input: {paths: [raw]}\noutput: {dir: out}\n"
        "stages:\n  - {name: exact_dedup}\n  - {name: minhash_dedup, params: {bands: 0}}\n"
    )
    (tmp_path / "raw").mkdir()
    with pytest.raises(CorpusError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:5: stages[1].params.bands: Input should be greater than or equal to 1 (got 0)"
    )


def test_a_rule_file_names_a_list_inside_a_list(tmp_path: Path) -> None:
    path = tmp_path / "sg.yaml"
    path.write_text(
        "jurisdiction: SG\nversion: '1'\nrules:\n  - id: SG-1\n    requires_any: [[consnet]]\n"
    )
    with pytest.raises(SpecError) as caught:
        load_rule_file(path)
    wrong = [line for line in str(caught.value).splitlines() if "consnet" in line]
    assert wrong == [
        f"{path}:5: rules[0].requires_any[0][0]: Input should be 'consent', 'scc', 'asean_mcc', "
        "'bcr', 'certification', 'adequacy', 'tia', 'cac_filing', 'cac_assessment' or "
        "'mps_assessment' (got 'consnet')"
    ], caught.value


@dataclass(frozen=True)
class BadQuota:
    name: str
    quota: dict[str, object]
    line: str


BAD_QUOTAS = [
    BadQuota("an amount past any centre", {"A100": 1e300},
             'quota["A100"]: Input should be less than or equal to 10000000 (got 1e+300)'),
    BadQuota("one past the bound", {"H100": MAX_QUOTA_ACCELERATORS + 1},
             'quota["H100"]: Input should be less than or equal to 10000000 (got 10000001)'),
    BadQuota("a negative amount of every type", {"*": -1},
             'quota["*"]: Input should be greater than or equal to 0 (got -1)'),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_QUOTAS, ids=lambda c: c.name)
def test_a_tenant_quota_is_bounded_naming_the_type(case: BadQuota) -> None:
    with pytest.raises(ValidationError) as caught:
        TenantSpec.model_validate({"name": "t", "quota": case.quota})
    assert describe_validation_error(caught.value) == case.line


def test_the_bound_itself_and_canonical_names_are_kept() -> None:
    spec = TenantSpec.model_validate({"name": "t", "quota": {"h100": MAX_QUOTA_ACCELERATORS}})
    assert spec.quota == {"H100": MAX_QUOTA_ACCELERATORS}
