"""`silkroute corpus ...` commands: langid, sample, run, stats."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from silkroute.corpus.errors import CorpusError

corpus_app = typer.Typer(help="ASEAN Languages Corpus pipeline.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # paths stay whole: copyable, greppable


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=2)


@corpus_app.command()
def langid() -> None:
    """Read lines or JSONL ({"text": ...}) on stdin; write JSONL with `lang` and `score`."""
    from silkroute.corpus.langid import CombinedLangId

    detector = CombinedLangId()
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            console.print(
                f"[yellow]warning:[/yellow] stdin line {number}: not UTF-8 "
                f"(byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); skipped",
                highlight=False,
            )
            continue
        if not line.strip():
            continue
        record: dict[str, Any]
        try:
            parsed = json.loads(line)
            record = parsed if isinstance(parsed, dict) and "text" in parsed else {"text": line}
        except json.JSONDecodeError:
            record = {"text": line.rstrip("\n")}
        result = detector.identify(str(record["text"]))
        record.update(lang=result.lang, score=result.score)
        if result.uncertain is not None:
            record["uncertain"] = result.uncertain
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


@corpus_app.command()
def sample(
    folder: Annotated[Path, typer.Argument(help="where to write pipeline.yaml and raw/")],
) -> None:
    """Write the shipped sample (pipeline.yaml and raw/: 10 documents in 6 languages) into
    FOLDER, then `silkroute corpus run FOLDER/pipeline.yaml`. Files already there are kept, so
    a job that restarts resumes its run instead of starting over."""
    from importlib import resources

    source = resources.files("silkroute.corpus.sample")
    written = 0
    for name in ("pipeline.yaml", "raw/sample.jsonl"):
        target = folder / name
        if target.exists():
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.joinpath(name).read_bytes())
        except OSError as exc:
            _fail(f"{target}: cannot write: {exc.strerror or exc}")
        written += 1
    console.print(
        f"sample corpus in {folder.resolve()} ({written} files written); run: "
        f"silkroute corpus run {folder / 'pipeline.yaml'}",
        highlight=False,
    )


@corpus_app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML file")],
    workers: Annotated[
        int, typer.Option(min=0, max=256, help="processes (0 = the file's `workers`)")
    ] = 0,
    strict: Annotated[
        bool, typer.Option("--strict", help="stop at the first bad record or unreadable file")
    ] = False,
    executor: Annotated[
        str, typer.Option(help="local (worker processes) or ray (one Ray task per shard)")
    ] = "",
    keep_work: Annotated[
        bool, typer.Option("--keep-work", help="keep the _work/ intermediates after success")
    ] = False,
) -> None:
    """Run a pipeline file: resumable per shard, parallel over processes."""
    from silkroute.corpus.pipeline.config import load_config
    from silkroute.corpus.pipeline.executor import run_pipeline
    from silkroute.corpus.progress import ProgressPrinter

    try:
        config = load_config(pipeline)
        if workers:
            config.workers = workers
        config.strict = config.strict or strict
        if executor:
            if executor not in ("local", "ray"):
                raise CorpusError(f"--executor: {executor!r} is not one of: local, ray")
            config.executor = executor  # type: ignore[assignment]
        console.print(f"output: {config.output.dir}", highlight=False)
        summary = run_pipeline(
            config,
            ProgressPrinter(sys.stderr),
            notify=lambda message: console.print(message, highlight=False),
            keep_work=keep_work,
        )
    except CorpusError as exc:
        _fail(str(exc))
        return
    bad = summary["input"]["bad"]
    if bad:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(bad.items()))
        console.print(
            f"[yellow]warning:[/yellow] bad input set aside ({reasons}): "
            f"{config.output.dir / 'quarantine.jsonl'}",
            highlight=False,
        )
    read = summary["input"]["documents"]
    if summary["output_documents"] == 0 and read > 0:
        removed = "; ".join(
            f"{name}: " + ", ".join(f"{why} {n}" for why, n in stage["removed"].items())
            for name, stage in summary["stages"].items()
            if stage.get("removed")
        )
        console.print(
            f"[yellow]warning:[/yellow] all {read} documents read were removed ({removed}); "
            f"silkroute corpus stats {config.output.dir} shows each stage",
            highlight=False,
        )
    console.print(
        f"{summary['output_documents']} documents -> {config.output.dir}", highlight=False
    )


@corpus_app.command()
def stats(
    directory: Annotated[Path, typer.Argument(help="output folder of a corpus run")],
) -> None:
    """Print documents, words and bytes per language and removal reasons of a finished run."""
    path = directory / "stats.json"
    if not path.exists():
        _fail(f"{directory}: no stats.json here (is it the output folder of `corpus run`?)")
    summary = _read_summary(path)
    out = Console()
    counted = summary.get("words_counted", True)

    def words(value: int) -> str:
        return str(value) if counted else "-"  # not counted unless `count_words: true`

    table = Table(title=f"stages of {directory}")
    for column in ("stage", "docs in", "docs out", "words out", "bytes out"):
        table.add_column(column, no_wrap=True)
    table.add_column("removed", overflow="fold")  # in 80 columns the reasons wrap, never cut
    for name, s in summary["stages"].items():
        docs_in = sum(r["docs"] for r in s["before"].values())
        after = s["after"].values()
        removed = ", ".join(f"{k}={v}" for k, v in s["removed"].items())
        table.add_row(
            name,
            str(docs_in),
            str(sum(r["docs"] for r in after)),
            words(sum(r["words"] for r in after)),
            str(sum(r["bytes"] for r in after)),
            removed,
        )
    out.print(table)
    last = list(summary["stages"].values())[-1]["after"]
    langs = Table(title="output per language")
    for column in ("language", "docs", "words", "bytes"):
        langs.add_column(column, no_wrap=True)
    for lang, row in sorted(last.items()):
        langs.add_row(lang, str(row["docs"]), words(row["words"]), str(row["bytes"]))
    out.print(langs)
    source = summary.get("input", {})
    bad = ", ".join(f"{k} {v}" for k, v in sorted(source.get("bad", {}).items())) or "none"
    out.print(
        f"input: {source.get('documents', 0)} documents from {source.get('files', 0)} files; "
        f"bad input: {bad} (details: {directory / 'quarantine.jsonl'})",
        highlight=False,
    )
    uncertain = _uncertain_labels(summary)
    if uncertain:
        out.print(
            "language uncertain (kept under the first label, marked `lang_uncertain`): "
            + ", ".join(f"{label} or {maybe} {n}" for (label, maybe), n in uncertain.items()),
            highlight=False,
        )


def _read_summary(path: Path) -> dict[str, Any]:
    """stats.json of a finished run, or a one-line error saying why it is not one."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:  # a ValueError, but its text is about codecs and positions
        _fail(f"{path}: cannot read: not UTF-8 text")
    except (OSError, ValueError) as exc:
        _fail(f"{path}: cannot read: {exc}")
    stages = summary.get("stages") if isinstance(summary, dict) else None
    if not isinstance(stages, dict) or not stages:
        _fail(f"{path}: no `stages` in it (is it the stats.json of `corpus run`?)")
    for name, stage in stages.items():
        if not isinstance(stage, dict) or not all(
            isinstance(stage.get(key), dict) for key in ("before", "after", "removed")
        ):
            _fail(f"{path}: stages.{name}: needs `before`, `after` and `removed` tables")
        # A row that is not {docs, words, bytes} of whole numbers was a TypeError or KeyError.
        for table in ("before", "after"):
            for lang, row in stage[table].items():
                if not isinstance(row, dict) or not all(
                    type(row.get(key)) is int for key in ("docs", "words", "bytes")
                ):
                    _fail(f"{path}: stages.{name}.{table}.{lang}: needs whole docs, words, bytes")
    return dict(summary)


def _uncertain_labels(summary: dict[str, Any]) -> dict[tuple[str, str], int]:
    """(label given, language that may be meant) -> documents, from the langid counters."""
    found: dict[tuple[str, str], int] = {}
    for stage in summary["stages"].values():
        for key, count in stage.get("counters", {}).items():
            if key.startswith("lang_uncertain:") and "|" in key:
                label, maybe = key.removeprefix("lang_uncertain:").split("|", 1)
                found[(label, maybe)] = found.get((label, maybe), 0) + int(count)
    return found


if __name__ == "__main__":
    corpus_app()
