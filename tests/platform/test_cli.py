"""The CLI against a real server (uvicorn in a thread): what a new user types."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.store.throwaway_pg import free_port
from tests.platform.conftest import WAIT_S, Api

runner = CliRunner()


def cli(url: str, token: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"SILKROUTE_URL": url, "SILKROUTE_TOKEN": token})
    return result.exit_code, result.output


@dataclass(frozen=True)
class CliRefusal:
    """A CLI call that must be refused in one line saying `says` (exit code 2)."""

    name: str
    args: tuple[str, ...]
    says: str


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_new_user_submits_watches_reads_logs_and_sees_the_cost(
    api: Api, server_url: str, tmp_path: Path
) -> None:
    api.add_sites()
    token = api.tenant("nus-nlp")
    job_file = tmp_path / "job.yaml"
    job_file.write_text(
        "name: hello\naccelerator_types: [H100]\ncommand: |\n  echo hello from $SILKROUTE_SITE\n"
    )
    code, out = cli(server_url, token, "submit", str(job_file))
    assert code == 0, out
    job_id = int(out.split()[1])
    api.wait_for(token, job_id, ("succeeded",))
    code, out = cli(server_url, token, "jobs", "--json")
    assert code == 0 and json.loads(out)["jobs"][0]["state"] == "succeeded"
    code, out = cli(server_url, token, "logs", str(job_id), "-f")
    assert code == 0 and out == "hello from singapore\n"
    code, out = cli(server_url, token, "job", str(job_id))
    assert code == 0 and "succeeded" in out and "singapore" in out
    code, out = cli(server_url, token, "usage", "--json")
    report = json.loads(out)
    assert code == 0 and report["rows"][0]["site"] == "singapore"
    assert report["tenants"][0]["cost"] > 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("content", "want"),
    [
        ("name: [x\n", "not valid YAML"),
        ("name: x\ncommand: true\nworkers: many\n", "workers"),
        ("name: x\ncommand: true\ngpus: 4\n", "gpus"),
        ("- 1\n- 2\n", "a job is a mapping of fields"),
    ],
    ids=["malformed YAML", "wrong type", "unknown field", "not a mapping"],
)
def test_a_bad_job_file_is_one_line_exit_2_and_nothing_stored(
    api: Api, server_url: str, tmp_path: Path, content: str, want: str
) -> None:
    api.add_sites()
    token = api.tenant("t1")
    job_file = tmp_path / "job.yaml"
    job_file.write_text(content)
    code, out = cli(server_url, token, "submit", str(job_file))
    assert code == 2
    assert want in out and out.startswith("error:") and out.count("\n") == 1, out
    assert api.client.get("/v1/jobs", headers=api.as_(token)).json()["jobs"] == []


def test_no_server_is_a_clear_error(tmp_path: Path) -> None:
    # Bound, never listening: connections are refused, and while it is held no other
    # process (a parallel test's server) can take the port and answer instead.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        code, out = cli(f"http://127.0.0.1:{held.getsockname()[1]}", "sr_x", "jobs")
    assert code == 2 and "cannot reach" in out and out.count("\n") == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_metrics_show_queue_allocation_and_latency(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    # Long enough to be seen running on a loaded machine; cancelled at the end.
    job = api.submit(token, command="sleep 30", accelerator_types=["A800"]).json()["id"]
    api.wait_for(token, job, ("running",))
    text = api.client.get("/metrics", headers=api.admin_headers()).text
    assert 'silkroute_allocated_accelerators{accelerator_type="A800",site="hanoi"} 1.0' in text
    assert "silkroute_running_jobs 1.0" in text
    assert 'silkroute_decisions_total{kind="start"}' in text
    assert (
        'silkroute_api_request_seconds_count{method="POST",route="/v1/jobs",status="201"}' in text
    )
    assert token not in text
    api.client.delete(f"/v1/jobs/{job}", headers=api.as_(token))
    api.wait_for(token, job, ("cancelled",))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tenant_registers_data_records_a_mechanism_and_explains_a_held_job(
    api: Api, server_url: str, tmp_path: Path
) -> None:
    api.add_sites()
    token = api.tenant("vn-health-lab")
    data = tmp_path / "data.yaml"
    data.write_text(
        "name: vn-clinical-notes\norigin: VN\ndata_class: personal\nsubjects: 40000\n"
        "sites: [hanoi]\nlicence: internal\ntags: [health]\n"
    )
    code, out = cli(server_url, token, "dataset", "add", str(data))
    assert code == 0 and "vn-clinical-notes registered (VN, personal)" in out, out
    code, out = cli(server_url, token, "dataset", "list", "--json")
    assert code == 0 and [d["name"] for d in json.loads(out)] == ["vn-clinical-notes"]
    code, out = cli(server_url, token, "dataset", "show", "nope")
    assert code == 2 and "no such dataset" in out
    data.write_text("name: bad\norigin: VN\ndata_class: secret\n")
    code, out = cli(server_url, token, "dataset", "add", str(data))
    assert code == 2 and "data_class" in out and "Traceback" not in out
    job_file = tmp_path / "job.yaml"
    job_file.write_text(
        "name: train\naccelerator_types: [H100]\ndatasets: [vn-clinical-notes]\ncommand: 'true'\n"
    )
    code, out = cli(server_url, token, "submit", str(job_file))
    assert code == 0, out
    job_id = int(out.split()[1])
    deadline = time.monotonic() + WAIT_S
    while not api.job(token, job_id)["hold_reason"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, out = cli(server_url, token, "explain", str(job_id))
    assert code == 0, out
    assert "held: data-law:VN-PDPL-PERSONAL" in out
    assert "allow hanoi (VN)" in out and "deny  singapore (SG)" in out
    assert "unblock: hold tia for VN->SG" in out
    code, out = cli(
        server_url,
        token,
        "compliance",
        "add",
        "tia",
        "--origin",
        "VN",
        "--to",
        "SG",
        "--counterparty",
        "Singapore partner centre",
        "--valid-until",
        "2099-12-31",
    )
    assert code == 0 and "recorded tia for vn-health-lab (VN -> SG)" in out, out
    code, out = cli(server_url, token, "compliance", "list", "--json")
    assert code == 0 and json.loads(out)[0]["counterparty"] == "Singapore partner centre"
    assert api.wait_for(token, job_id, ("succeeded",))["site"] == "singapore"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_operators_revoke_tokens_and_drain_nodes_from_the_cli(api: Api, server_url: str) -> None:
    api.add_sites()
    tenant = api.tenant("t1")
    code, out = cli(server_url, tenant, "token", "create", "--label", "laptop")
    assert code == 0, out
    second = out.split()[-1]
    code, out = cli(server_url, second, "token", "list", "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [t["label"] for t in listed] == ["tenant t1", "laptop"]
    code, out = cli(server_url, api.admin, "token", "revoke", str(listed[0]["id"]))
    assert code == 0 and "revoked" in out, out
    code, out = cli(server_url, tenant, "jobs")
    assert code == 2 and "HTTP 401" in out
    code, out = cli(server_url, second, "node", "drain", "hanoi")
    assert code == 2 and "HTTP 403" in out
    code, out = cli(
        server_url, api.admin, "node", "drain", "jakarta", "--node", "jakarta-l40s-00001"
    )
    assert code == 0 and "jakarta-l40s-00001" in out, out
    code, out = cli(server_url, second, "node", "list", "--site", "jakarta", "--json")
    states = {n["node"]: n["state"] for n in json.loads(out)}
    assert states == {"jakarta-l40s-00000": "active", "jakarta-l40s-00001": "drained"}
    code, out = cli(server_url, api.admin, "node", "remove", "jakarta")
    assert code == 0, out
    code, out = cli(server_url, api.admin, "node", "list", "--site", "jakarta")
    assert code == 0 and out.count("removed") == 2, out


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["server", "--port", "99999"], "--port"),
        (["server", "--tick", "0"], "--tick"),
        (["server", "--tick", "nan"], "--tick"),
        (["server", "--grace", "-5"], "--grace"),
        (["server", "--agent-timeout", "inf"], "--agent-timeout"),
        (["tenant", "create", "t1", "--country", "SG", "--weight", "nan"], "--weight"),
        (["tenant", "create", "t1", "--country", "SG", "--budget", "inf"], "--budget"),
        (
            ["agent", "--site", "s", "--backend", "local", "--token", "x", "--interval", "0"],
            "--interval",
        ),
    ],
    ids=[
        "a port past 65535 (it served on another)",
        "a tick of 0 seconds (the loop spins)",
        "a tick of NaN seconds",
        "a negative grace period",
        "an endless agent timeout",
        "a NaN fair-share weight (a traceback: JSON cannot carry NaN)",
        "an endless budget",
        "an agent round every 0 seconds",
    ],
)
def test_a_bad_number_option_is_one_line_exit_2_before_anything_starts(
    tmp_path: Path, args: list[str], want: str
) -> None:
    # A subprocess with a timeout: a server that starts anyway must fail the test, not hang it.
    env = {**os.environ, "SILKROUTE_URL": f"http://127.0.0.1:{free_port()}", "NO_COLOR": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "silkroute.cli",
            *args,
            *(["--data-dir", str(tmp_path)] if args[0] == "server" else []),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {want}:") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["cancel", "abc"], "Invalid value for 'job_id'"),
        (["logs", "1", "--stream", "stdout"], "No such option: --stream"),
        (["tenant", "create", "t1"], "Missing option '--country'"),
        (["node", "fly", "hanoi"], "No such command 'fly'"),
    ],
    ids=[
        "a job id that is not a number",
        "an unknown option",
        "a missing option",
        "an unknown command",
    ],
)
def test_a_usage_error_is_one_line_exit_2_in_a_narrow_terminal(
    tmp_path: Path, args: list[str], want: str
) -> None:
    # Typer drew these in a box, wrapped at the terminal width: several lines, split words.
    env = {**os.environ, "COLUMNS": "40", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "silkroute.cli", *args],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert want in done.stderr and "--help" in done.stderr


@pytest.mark.parametrize(
    ("setup", "args", "want"),
    [
        ("precious", ["--port", "{port}"], "--data-dir:"),
        ("", ["--port", "99999"], "--port:"),
    ],
    ids=[
        "a data folder holding other files (it deleted them)",
        "a port past 65535 (a traceback)",
    ],
)
def test_the_demo_refuses_a_folder_it_did_not_make_and_a_bad_port(
    tmp_path: Path, setup: str, args: list[str], want: str
) -> None:
    folder = tmp_path / "data"
    if setup:
        folder.mkdir()
        (folder / "thesis.tex").write_text("two years of work")
    port = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "silkroute.cli", "demo", "--data-dir", str(folder),
         *(a.format(port=port) for a in args)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "CI": "true"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {want}") and done.stderr.count("\n") == 1, done.stderr
    if setup:
        assert (folder / "thesis.tex").read_text() == "two years of work"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("command", "content", "want"),
    [
        ("site", "sites: 5\n", "sites: a list of sites"),
        ("site", "", "a site is a mapping of fields"),
        ("site", "sites: [kuala-lumpur]\n", "sites[0]: a site is a mapping of fields"),
        ("dataset", "", "a dataset is a mapping of fields"),
        ("dataset", "datasets: [1, 2]\n", "datasets[0]: a dataset is a mapping of fields"),
    ],
    ids=[
        "sites that are not a list (a traceback)",
        "an empty site file ('(body): Field required')",
        "a site that is a name, not a mapping",
        "an empty dataset file",
        "datasets that are numbers",
    ],
)
def test_a_bad_site_or_dataset_file_is_one_line_naming_the_file(
    api: Api, server_url: str, tmp_path: Path, command: str, content: str, want: str
) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(content)
    code, out = cli(server_url, api.admin, command, "add", str(path))
    assert code == 2, out
    assert out == f"error: {path}: {want}\n", out
    assert api.client.get("/v1/sites", headers=api.admin_headers()).json() == []


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["admin", "init", "--db", "notadb://x"], "error: cannot open the database: "),
        (
            ["admin", "init", "--data-dir", "/proc/no-such-folder"],
            "error: cannot open the database: ",
        ),
        (["audit", "verify", "--db", "notadb://x", "--public-key", "{key}"], "error: --db: "),
    ],
    ids=[
        "admin init with a database URL of no known kind",
        "admin init with a data folder that cannot be made",
        "audit verify with a database URL of no known kind",
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line_exit_2(
    tmp_path: Path, args: list[str], want: str
) -> None:
    # Each was a SQLAlchemy or OS traceback (`silkroute server` already said it in one line).
    assert (
        runner.invoke(app, ["audit", "keygen", "--out", str(tmp_path / "audit.key")]).exit_code == 0
    )
    key = tmp_path / "audit.key.pub"
    done = subprocess.run(
        [sys.executable, "-m", "silkroute.cli", *(a.format(key=key) for a in args)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(want) and done.stderr.count("\n") == 1, done.stderr
