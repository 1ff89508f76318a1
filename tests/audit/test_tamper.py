"""Edit, drop, reorder or insert any row of the log: verify fails and names the first bad
record. A full rewrite with a fresh chain is caught by the signed checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.audit import merkle
from silkroute.audit.log import AuditLog, export, new_key, verify, write_keys
from silkroute.audit.records import GENESIS, AuditError, AuditRecord
from silkroute.audit.store import JsonlAuditStore, MemoryAuditStore
from silkroute.cli import app

ROWS = 9
KEY = new_key()


def write_log(path: Path, checkpoints: tuple[int, ...] = (4, ROWS)) -> Path:
    log = AuditLog(JsonlAuditStore(path, durable=False), KEY)
    for i in range(ROWS):
        kind = ("data-decision", "placement", "preemption", "cancel", "admin")[i % 5]
        log.append(kind, "scheduler", f"job/{i}", {"site": f"s{i % 3}", "n": i}, at=f"t{i}")
        if i + 1 in checkpoints:
            log.checkpoint(at=f"c{i}")
    return path


def record_lines(path: Path) -> tuple[list[str], list[int]]:
    lines = path.read_text().splitlines(keepends=True)
    return lines, [i for i, line in enumerate(lines) if '"type": "record"' in line]


def failure(path: Path) -> str:
    with pytest.raises(AuditError) as info:
        verify(JsonlAuditStore(path), KEY.public_key())
    return str(info.value)


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    report, _ = verify(JsonlAuditStore(write_log(tmp_path / "a.jsonl")), KEY.public_key())
    assert (report.records, report.checkpoints, report.signed_size) == (ROWS, 2, ROWS)


@pytest.mark.parametrize("row", range(ROWS))
def test_editing_any_row_names_it(tmp_path: Path, row: int) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines, records = record_lines(path)
    lines[records[row]] = lines[records[row]].replace(f'"n": {row}', f'"n": {row + 100}')
    path.write_text("".join(lines))
    assert failure(path).startswith(f"record #{row} (seq {row}): contents do not match")


@pytest.mark.parametrize("row", range(ROWS))
def test_deleting_any_row_names_where_it_was(tmp_path: Path, row: int) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines, records = record_lines(path)
    del lines[records[row]]
    path.write_text("".join(lines))
    message = failure(path)
    if row == ROWS - 1:  # the last record: only the checkpoint that covered it notices
        assert message.startswith(f"record #{row}: missing")
    else:
        assert message.startswith(f"record #{row}: has seq {row + 1}"), message


@pytest.mark.parametrize(("first", "second"), [(0, 1), (2, 7), (3, 4), (7, 8), (0, 8)])
def test_reordering_rows_names_the_first_moved(tmp_path: Path, first: int, second: int) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines, records = record_lines(path)
    a, b = records[first], records[second]
    lines[a], lines[b] = lines[b], lines[a]
    path.write_text("".join(lines))
    assert failure(path).startswith(f"record #{first}: has seq {second}")


@pytest.mark.parametrize("row", range(ROWS))
def test_a_duplicated_row_is_named(tmp_path: Path, row: int) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines, records = record_lines(path)
    lines.insert(records[row] + 1, lines[records[row]])
    path.write_text("".join(lines))
    assert failure(path).startswith(f"record #{row}: a second record claims seq {row}")


def test_a_forged_record_with_a_correct_hash_breaks_the_link(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines, records = record_lines(path)
    raw = json.loads(lines[records[3]])
    raw.pop("type")
    raw["detail"] = {"site": "elsewhere"}
    forged = AuditRecord(**{k: v for k, v in raw.items() if k != "hash"}).sealed()
    lines[records[3]] = json.dumps({"type": "record", **forged.to_json()}) + "\n"
    path.write_text("".join(lines))
    assert failure(path).startswith("record #3: rewritten")


def test_a_full_rewrite_with_a_fresh_chain_fails_at_the_checkpoint(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines, records = record_lines(path)
    prev = GENESIS
    for position in records:
        raw = json.loads(lines[position])
        raw.pop("type"), raw.pop("hash")
        if raw["seq"] == 2:
            raw["detail"] = {"site": "rewritten"}
        sealed = AuditRecord(**{**raw, "prev": prev}).sealed()
        prev = sealed.hash
        lines[position] = json.dumps({"type": "record", **sealed.to_json()}) + "\n"
    path.write_text("".join(lines))
    assert failure(path).startswith("checkpoint #0 (size 4): root does not match records #0..#3")


def test_a_forged_checkpoint_signature_fails(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl", checkpoints=(ROWS,))
    other = new_key()
    text = path.read_text()
    head = json.loads(text.splitlines()[-1])
    forged = dict(head, signature=other.sign(b"x").hex())
    path.write_text(text.replace(json.dumps(head, sort_keys=True), json.dumps(forged)))
    assert "signature does not verify" in failure(path)


def test_the_wrong_public_key_is_named(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl")
    with pytest.raises(AuditError, match="signed by key"):
        verify(JsonlAuditStore(path), new_key().public_key())


def test_a_garbled_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:40] + "\n"
    path.write_text("".join(lines))
    assert failure(path).startswith(f"{path}:3: not valid JSON (")


def test_memory_store_behaves_the_same() -> None:
    store = MemoryAuditStore()
    log = AuditLog(store, KEY)
    for i in range(5):
        log.append("placement", "scheduler", f"job/{i}", {"i": i})
    log.checkpoint()
    verify(store, KEY.public_key())
    store.rows[2], store.rows[3] = store.rows[3], store.rows[2]
    with pytest.raises(AuditError, match=r"^record #2: has seq 3"):
        verify(store, KEY.public_key())


def test_reopening_a_log_continues_its_chain(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl")
    AuditLog(JsonlAuditStore(path), KEY).append("admin", "ops", "site/s1", {"drain": True})
    report, _ = verify(JsonlAuditStore(path), KEY.public_key())
    assert (report.records, report.unsigned) == (ROWS + 1, 1)


def test_export_proves_every_record(tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.jsonl", checkpoints=(4, 7))
    out = tmp_path / "export.jsonl"
    with out.open("w") as sink:
        export(JsonlAuditStore(path), KEY.public_key(), sink)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    heads = [r for r in rows if r["type"] == "checkpoint"]
    (consistency,) = [r for r in rows if r["type"] == "consistency"]
    assert merkle.verify_consistency(
        4,
        7,
        bytes.fromhex(heads[0]["root"]),
        bytes.fromhex(heads[1]["root"]),
        [bytes.fromhex(p) for p in consistency["proof"]],
    )
    records = [r for r in rows if r["type"] == "record"]
    assert [r["signed"] for r in records] == [True] * 7 + [False] * 2
    for row in records:
        leaf = AuditRecord(**row["record"]).leaf()
        proof = [bytes.fromhex(p) for p in row["inclusion"]]
        assert merkle.verify_inclusion(
            leaf, row["leaf_index"], row["tree_size"], proof, bytes.fromhex(row["root"])
        )
    assert records[0]["root"] == heads[-1]["root"]


def test_cli_verify_exit_codes_and_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    path = write_log(tmp_path / "a.jsonl")
    pub = write_keys(KEY, tmp_path / "key")
    ok = runner.invoke(app, ["audit", "verify", "--log", str(path), "--public-key", str(pub)])
    assert ok.exit_code == 0 and "ok: 9 records" in ok.stdout
    proofs = tmp_path / "proofs.jsonl"
    done = runner.invoke(
        app, ["audit", "export", "--log", str(path), "--public-key", str(pub), "--out", str(proofs)]
    )
    assert done.exit_code == 0 and len(proofs.read_text().splitlines()) == 9 + 2 + 1
    proofs.unlink()
    lines, records = record_lines(path)
    del lines[records[5]]
    path.write_text("".join(lines))
    bad = runner.invoke(app, ["audit", "verify", "--log", str(path), "--public-key", str(pub)])
    assert bad.exit_code == 1
    assert bad.stderr.strip().startswith("tampered: record #5: has seq 6")
    assert len(bad.stderr.strip().splitlines()) == 1
    missing = runner.invoke(app, ["audit", "verify", "--log", "nope", "--public-key", str(pub)])
    assert missing.exit_code == 2 and "--log: no such file" in missing.stderr
    target = tmp_path / "proofs.jsonl"
    export = runner.invoke(
        app, ["audit", "export", "--log", str(path), "--public-key", str(pub), "--out", str(target)]
    )
    assert export.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "key", "key.pub"]


def test_a_log_line_nested_too_deeply_is_reported_not_a_traceback(tmp_path: Path) -> None:
    # Verify read it with a RecursionError traceback instead of naming the line.
    path = write_log(tmp_path / "a.jsonl")
    pub = write_keys(KEY, tmp_path / "key")
    line = len(path.read_text().splitlines()) + 1
    with path.open("a") as log:
        log.write('{"type": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    got = CliRunner().invoke(app, ["audit", "verify", "--log", str(path), "--public-key", str(pub)])
    assert got.exit_code == 1, got.output
    assert got.stderr == f"tampered: {path}:{line}: not valid JSON (nested too deeply)\n"
