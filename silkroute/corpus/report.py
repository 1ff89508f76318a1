"""Run report: an HTML page of tables plus a PNG chart of documents per language per stage."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: batch jobs have no display
import matplotlib.pyplot as plt


def _totals(side: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k: sum(row[k] for row in side.values()) for k in ("docs", "words", "bytes")}


def write_png(summary: dict[str, Any], path: Path) -> None:
    stages = summary["stages"]
    langs = sorted({lang for s in stages.values() for lang in s["after"]})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    names = list(stages)
    bottom = [0] * len(names)
    for lang in langs:
        values = [stages[n]["after"].get(lang, {}).get("docs", 0) for n in names]
        ax1.bar(names, values, bottom=bottom, label=lang)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax1.set_title("documents per language after each stage")
    ax1.tick_params(axis="x", rotation=30)
    if langs:
        ax1.legend(fontsize=7, ncol=2)
    reasons = {f"{n}:{r}": c for n in names for r, c in stages[n]["removed"].items()}
    ax2.barh(list(reasons), list(reasons.values()))
    ax2.set_title("documents removed, by reason")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


STAGE_COLUMNS = ["stage", "docs in", "docs out", "words in", "words out", "bytes in", "bytes out"]
STAGE_COLUMNS.append("cpu s")


def write_report(summary: dict[str, Any], out_dir: Path) -> Path:
    png = out_dir / "report.png"
    write_png(summary, png)
    stages = summary["stages"]
    stage_rows = []
    for name, s in stages.items():
        b, a = _totals(s["before"]), _totals(s["after"])
        stage_rows.append(
            [
                name,
                b["docs"],
                a["docs"],
                b["words"],
                a["words"],
                b["bytes"],
                a["bytes"],
                round(s["seconds"], 2),
            ]
        )
    last = list(stages.values())[-1]["after"] if stages else {}
    lang_rows = [[lang, r["docs"], r["words"], r["bytes"]] for lang, r in sorted(last.items())]
    removed = [[n, r, c] for n, s in stages.items() for r, c in s["removed"].items()]
    clusters = [
        [n, size, count]
        for n, c in summary["dedup_clusters"].items()
        for size, count in c["cluster_sizes"].items()
        if int(size) > 1
    ]
    source = summary.get("input", {})
    bad_rows = [[reason, count] for reason, count in sorted(source.get("bad", {}).items())]
    bad_rows += [[name, count] for name, count in sorted(source.get("counters", {}).items())]
    image = base64.b64encode(png.read_bytes()).decode()
    page = f"""<!doctype html><meta charset="utf-8"><title>corpus run report</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;border:1px solid #ccc}}</style>
<h1>Corpus run report</h1><p>{summary["output_documents"]} documents written in
{summary["shards"]} shards.</p><img src="data:image/png;base64,{image}">
<h2>Stages (before → after)</h2>
{_table(STAGE_COLUMNS, stage_rows)}
<h2>Output per language</h2>{_table(["language", "docs", "words", "bytes"], lang_rows)}
<h2>Removal reasons</h2>{_table(["stage", "reason", "documents"], removed)}
<h2>Duplicate clusters (size > 1)</h2>{_table(["stage", "cluster size", "clusters"], clusters)}
<h2>Input: {source.get("documents", 0)} documents from {source.get("files", 0)} files; bad
records and unreadable files (each in <code>quarantine.jsonl</code> with file and line)</h2>
{_table(["reason", "count"], bad_rows)}
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
