"""Corpus pipeline benchmark: throughput per stage and end to end, and language-ID accuracy.

Run: python -m benchmarks.corpus_bench [--quick] [--accuracy-only] (or CORPUS_BENCH_QUICK=1).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from silkroute.corpus.document import Document
from silkroute.corpus.langid import CombinedLangId
from silkroute.corpus.langid.detectors import Cld2Detector, FastTextDetector, LinguaDetector
from silkroute.corpus.langid.evalsets import authored, udhr_held_out
from silkroute.corpus.langid.udhr import UDHR_FILES, udhr_lines
from silkroute.corpus.pipeline.config import PipelineConfig
from silkroute.corpus.pipeline.executor import run_pipeline
from silkroute.corpus.pipeline.stats import StageStats

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OUT = Path("out") / "bench" / "corpus.json"
STAGES = ["normalize", "langid", "language_filter", "quality_filter", "pii"]
STAGES += ["exact_dedup", "minhash_dedup"]
console = Console()


def synthetic_corpus(n_docs: int, rng: random.Random) -> list[dict[str, str]]:
    """UDHR paragraphs of 16 languages, with 10% exact copies, 10% near copies, 5% PII."""
    pools = {}
    for label, code in UDHR_FILES.items():
        lines = udhr_lines(DATA_DIR, code)
        pools[label] = lines
    docs: list[dict[str, str]] = []
    while len(docs) < n_docs:
        roll = rng.random()
        if docs and roll < 0.1:
            docs.append({"id": f"d{len(docs)}", "text": rng.choice(docs)["text"]})
            continue
        if docs and roll < 0.2:
            text = rng.choice(docs)["text"]
            docs.append({"id": f"d{len(docs)}", "text": text[: int(len(text) * 0.95)]})
            continue
        lines = pools[rng.choice(sorted(pools))]
        start = rng.randrange(0, len(lines) - 6)
        text = "\n".join(lines[start : start + rng.randint(3, 6)])
        if roll < 0.25:
            text += f"\nContact: user{len(docs)}@example.com, +65 6{rng.randrange(10**6, 10**7)}"
        docs.append({"id": f"d{len(docs)}", "text": text})
    return docs


def stage_throughput(records: list[dict[str, str]]) -> dict[str, float]:
    """Documents per second of each per-document stage alone, on one core."""
    config = PipelineConfig.model_validate(
        {"input": {"paths": ["."]}, "output": {"dir": "."}, "stages": [{"name": s} for s in STAGES]}
    )
    docs = [Document(r["id"], r["text"]) for r in records]
    rates: dict[str, float] = {}
    for stage in config.build_stages():
        batch = [Document(d.id, d.text, dict(d.meta)) for d in docs]
        start = time.perf_counter()
        if stage.barrier:
            stage.fingerprints(batch)  # type: ignore[attr-defined]
        else:
            docs = list(stage.run(batch, StageStats()))
        rates[stage.name] = len(batch) / (time.perf_counter() - start)
    return rates


def end_to_end(records: list[dict[str, str]], workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        per_file = max(1, len(records) // (workers * 8))
        for i in range(0, len(records), per_file):
            with (raw / f"part-{i:07d}.jsonl").open("w") as handle:
                for record in records[i : i + per_file]:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        config = PipelineConfig.model_validate(
            {
                "input": {"paths": [str(raw)]},
                "output": {"dir": str(Path(tmp) / "out")},
                "workers": workers,
                "report": False,
                "stages": [{"name": s} for s in STAGES],
            }
        )
        start = time.perf_counter()
        summary = run_pipeline(config)
        seconds = time.perf_counter() - start
    return {
        "documents": len(records),
        "workers": workers,
        "seconds": round(seconds, 2),
        "docs_per_s": round(len(records) / seconds, 1),
        "docs_per_s_per_core": round(len(records) / seconds / workers, 1),
        "output_documents": summary["output_documents"],
        "removed": {n: s["removed"] for n, s in summary["stages"].items()},
    }


def _detectors() -> dict[str, Callable[[str], str]]:
    ours = CombinedLangId()
    detectors: dict[str, Callable[[str], str]] = {"ours": lambda t: ours.identify(t).lang}
    for det in (FastTextDetector(), Cld2Detector(), LinguaDetector(all_languages=True)):
        detectors[det.name] = lambda t, d=det: max(  # type: ignore[misc]
            (s := d.scores(t)), key=lambda k: s[k], default="und"
        )
    return detectors


def langid_accuracy(
    rows: list[tuple[str, str]], detectors: dict[str, Callable[[str], str]]
) -> dict[str, Any]:
    """Accuracy per language and macro, plus the Indonesian/Malay confusion counts."""
    labels = sorted({label for label, _ in rows})
    per_lang: dict[str, dict[str, float]] = {name: {} for name in detectors}
    ind_zsm: dict[str, dict[str, int]] = {name: {} for name in detectors}
    for label in labels:
        lines = [text for lab, text in rows if lab == label]
        for name, detect in detectors.items():
            predictions = [detect(x) for x in lines]
            per_lang[name][label] = sum(p == label for p in predictions) / len(lines)
            if label in ("ind_Latn", "zsm_Latn"):
                for p in predictions:
                    key = f"{label}->{p if p in ('ind_Latn', 'zsm_Latn') else 'other'}"
                    ind_zsm[name][key] = ind_zsm[name].get(key, 0) + 1
    macro = {n: sum(v.values()) / len(v) for n, v in per_lang.items()}
    pair = {n: (per_lang[n]["ind_Latn"] + per_lang[n]["zsm_Latn"]) / 2 for n in detectors}
    return {
        "lines": len(rows),
        "per_language": per_lang,
        "macro": macro,
        "ind_zsm_accuracy": pair,
        "ind_zsm": ind_zsm,
    }


def lingua_ind_msa(rows: list[tuple[str, str]]) -> dict[str, float]:
    """Lingua restricted to Indonesian and Malay only, on the ind/zsm lines of a set."""
    from lingua import Language, LanguageDetectorBuilder

    det = LanguageDetectorBuilder.from_languages(Language.INDONESIAN, Language.MALAY).build()
    names = {Language.INDONESIAN: "ind_Latn", Language.MALAY: "zsm_Latn"}
    out: dict[str, float] = {}
    for label in ("ind_Latn", "zsm_Latn"):
        lines = [text for lab, text in rows if lab == label]
        hits = sum(names.get(det.detect_language_of(x)) == label for x in lines)  # type: ignore[arg-type]
        out[label] = hits / len(lines)
    out["mean"] = (out["ind_Latn"] + out["zsm_Latn"]) / 2
    return out


def segmentation_scores() -> dict[str, dict[str, dict[str, float]]]:
    """Word-boundary F1 of each segmenter on the gold sentences shipped in `segment_gold.txt`."""
    from silkroute.corpus.segment_eval import compare_segmenters

    return compare_segmenters()


def print_tables(result: dict[str, Any]) -> None:
    for key, title in (
        ("udhr_held_out", "language ID, held-out UDHR lines (IN-DOMAIN for our profiles)"),
        ("authored", "language ID, authored sentences (out of domain)"),
    ):
        acc = result["langid"][key]
        table = Table(title=f"{title}: {acc['lines']} lines")
        names = list(acc["macro"])
        table.add_column("language")
        for name in names:
            table.add_column(name)
        for label in sorted(acc["per_language"]["ours"]):
            table.add_row(label, *(f"{acc['per_language'][n][label]:.2f}" for n in names))
        table.add_row("macro", *(f"{acc['macro'][n]:.3f}" for n in names))
        table.add_row("ind+zsm", *(f"{acc['ind_zsm_accuracy'][n]:.3f}" for n in names))
        console.print(table)
    for name, acc in result["lingua_ind_msa_only"].items():
        console.print(
            f"lingua restricted to Indonesian+Malay, {name}: ind {acc['ind_Latn']:.2f}, "
            f"zsm {acc['zsm_Latn']:.2f}, mean {acc['mean']:.3f}"
        )
    seg = Table(title="segmentation, word-boundary F1 on gold sentences")
    seg.add_column("script")
    seg.add_column("segmenter")
    seg.add_column("F1")
    seg.add_column("sentences exact")
    for script, scores in result["segmentation"].items():
        for name, score in scores.items():
            seg.add_row(script, name, f"{score['f1']:.3f}", f"{score['exact']:.2f}")
    console.print(seg)
    if "stages_docs_per_s" not in result:
        return
    speed = Table(title="throughput (documents/s on one core; end to end per core)")
    speed.add_column("stage")
    speed.add_column("docs/s/core")
    for stage, rate in result["stages_docs_per_s"].items():
        speed.add_row(stage, f"{rate:,.0f}")
    speed.add_row("end to end", f"{result['end_to_end']['docs_per_s_per_core']:,.0f}")
    console.print(speed)


def main() -> None:
    if not (DATA_DIR / "udhr").is_dir():
        console.print(f"UDHR texts not found at {DATA_DIR / 'udhr'}; nothing to benchmark")
        return
    quick = "--quick" in sys.argv or os.environ.get("CORPUS_BENCH_QUICK") == "1"
    n_docs = 10_000 if quick else 100_000
    workers = min(2, os.cpu_count() or 1)
    records = synthetic_corpus(n_docs, random.Random(0))
    result: dict[str, Any] = {"documents": n_docs, "quick": quick}
    detectors = _detectors()
    sets = {"udhr_held_out": udhr_held_out(DATA_DIR), "authored": authored()}
    result["langid"] = {name: langid_accuracy(rows, detectors) for name, rows in sets.items()}
    result["lingua_ind_msa_only"] = {name: lingua_ind_msa(rows) for name, rows in sets.items()}
    result["segmentation"] = segmentation_scores()
    if "--accuracy-only" in sys.argv:
        print_tables(result)
        return
    result["stages_docs_per_s"] = {
        k: round(v, 1) for k, v in stage_throughput(records[:3000]).items()
    }
    result["end_to_end"] = end_to_end(records, workers)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print_tables(result)
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
