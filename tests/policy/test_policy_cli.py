"""`silkroute policy check`: exit codes 0 allow / 1 deny / 2 bad input; JSON is one object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["policy", "check", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "code", "verdict", "rule"),
    [
        (
            "--origin CN --data-class personal --subjects 500000 --destination TH",
            1,
            "deny",
            "CN-2024-PI-CONTRACT",
        ),
        (
            "--origin CN --data-class personal --subjects 500000 --destination TH "
            "--mechanisms scc,cac_filing",
            0,
            "allow",
            "CN-2024-PI-CONTRACT",
        ),
        (
            "--origin CN --data-class personal --subjects 10 --destination TH --ciio",
            1,
            "deny",
            "CN-CIIO-ASSESSMENT",
        ),
        (
            "--origin VN --data-class personal --destination SG --date 2026-02-01 --mechanisms tia",
            0,
            "allow",
            "VN-PDPL-PERSONAL",
        ),
        (
            "--origin VN --data-class personal --destination SG --date 2024-02-01",
            1,
            "deny",
            "VN-DECREE13-PERSONAL",
        ),
        ("--origin sg --data-class public --destination us", 0, "allow", "SG-PUBLIC"),
    ],
)
def test_json_verdicts_and_exit_codes(args: str, code: int, verdict: str, rule: str) -> None:
    exit_code, out, _ = run(*args.split(), "--json")
    assert exit_code == code
    body = json.loads(out)
    assert (body["verdict"], body["rule"]) == (verdict, rule)
    assert body["legal_basis"] and "unblock" in body
    assert (body["unblock"] is None) == (verdict == "allow")


def test_human_output_names_rule_basis_and_unblock() -> None:
    code, out, _ = run("--origin", "CN", "--data-class", "important", "--destination", "TH")
    assert code == 1
    assert "CN-IMPORTANT-ASSESSMENT" in out and "Data Security Law" in out
    assert "unblock:     hold cac_assessment for CN->TH" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--origin CN --data-class secret --destination TH", "--data-class: unknown class"),
        (
            "--origin CN --data-class personal --destination TH --mechanisms scc,nda",
            "--mechanisms: unknown mechanism 'nda'",
        ),
        ("--origin CN --data-class personal --destination TH --date 2026-02-30", "--date:"),
        ("--origin XX --data-class personal --destination TH", "--origin: no rule file for XX"),
        ("--origin CN --data-class personal --destination Thailand", "--destination:"),
        ("--origin CN --data-class personal --destination TH --subjects -5", "--subjects:"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: str, message: str) -> None:
    code, out, err = run(*args.split())
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_the_installed_command_runs_as_a_process() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "silkroute.cli",
            "policy",
            "check",
            "--origin",
            "CN",
            "--data-class",
            "core",
            "--destination",
            "SG",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["rule"] == "CN-DSL-CORE"


def test_rules_and_validate_commands() -> None:
    result = runner.invoke(app, ["policy", "rules", "--origin", "VN", "--date", "2026-01-01"])
    assert result.exit_code == 0
    assert "VN-PDPL-PERSONAL" in result.stdout and "VN-DECREE13-PERSONAL" not in result.stdout
    result = runner.invoke(app, ["policy", "validate"])
    assert result.exit_code == 0 and "11 jurisdictions" in result.stdout


def test_errors_stay_one_line_in_a_narrow_terminal() -> None:
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "silkroute.cli", "policy", "check", "--origin", "CN",
         "--data-class", "personal", "--destination", "TH", "--mechanisms", "a_long_nonsense"],
        capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "40"},
    )  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # A reviewer pointing at the wrong folder was told "0 jurisdictions, 0 rules" (exit 0).
        (["validate", "--rules", "{missing}"], "no rule files"),
        (["validate", "--rules", "{empty}"], "no rule files"),
        # It blamed --origin: "no rule file for VN; known: " (nothing).
        (["check", "--origin", "VN", "--data-class", "personal", "--destination", "SG",
          "--rules", "{missing}"], "no rule files"),
        # An unknown origin listed an empty table (exit 0), where `check` refuses it.
        (["rules", "--origin", "ZZ"], "--origin: no rule file for ZZ"),
        # It said "(the folder does not exist)" of a file that does.
        (["validate", "--rules", "{afile}"], "(it is a file; give the folder of rule files)"),
    ],
    ids=[
        "validating a folder that does not exist",
        "validating a folder without rule files",
        "checking against a folder that does not exist",
        "listing the rules of an origin without a file",
        "validating a file as the folder",
    ],
)  # fmt: skip
def test_a_wrong_rules_folder_or_origin_is_one_line_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "cn.yaml").write_text("a rule file, given where its folder is asked for\n")
    folders = {"missing": tmp_path / "missing", "empty": tmp_path / "empty"}
    folders["afile"] = tmp_path / "cn.yaml"
    result = runner.invoke(app, ["policy", *(a.format(**folders) for a in args)])
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
