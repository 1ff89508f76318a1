"""A throwaway PostgreSQL server for tests and benchmarks: Debian's binaries, a temp dir, a
free port, run as `nobody` when we are root (initdb refuses root). Not for production."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    run_as: list[str]

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PgServer | str:
    """A running server, or why there is none (the caller skips with that message)."""
    bindir = find_bindir()
    if bindir is None:
        return "PostgreSQL is not installed (apt-get install postgresql; .ci/run does this)"
    root = Path(tempfile.mkdtemp(prefix="silkroute-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = pwd.getpwnam("nobody")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "nobody", "--"]
    data = root / "data"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    initdb += ["-E", "UTF8"]
    done = subprocess.run([*run_as, *initdb], capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        return f"cannot start PostgreSQL (initdb): {done.stderr.strip()[:300]}"
    # The port is chosen just before the start, and again if someone bound it in between
    # (a free port is not a reserved one: a parallel test's server may take it first).
    for _ in range(3):
        port = free_port()
        start = [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200",
            "start",
        ]
        done = subprocess.run([*run_as, *start], capture_output=True, text=True)
        if done.returncode == 0:
            break
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        if "already in use" not in log:
            break
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        return f"cannot start PostgreSQL (pg_ctl): {done.stderr.strip()[:300]}"
    return PgServer(bindir, root, port, run_as)
