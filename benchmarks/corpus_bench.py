"""Corpus pipeline benchmark: a seeded synthetic ASEAN corpus with planted copies; speed per
stage and end to end, dedup recall and false removals per script, and language-ID accuracy.

Run: python -m benchmarks.corpus_bench [--docs N] [--workers W] [--accuracy-only]
(`make bench` uses CORPUS_BENCH_DOCS, default 20,000 documents; the issue's table used 100,000).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from silkroute.corpus.dedup.shingles import jaccard, shingle_hashes
from silkroute.corpus.document import Document
from silkroute.corpus.langid import CombinedLangId, regional_cutoff
from silkroute.corpus.langid.detectors import Cld2Detector, FastTextDetector, LinguaDetector
from silkroute.corpus.langid.evalsets import (
    authored,
    chatterbot_indonesian,
    django_translations,
    eld_big_test,
    nlpid_indonesian,
    spacy_examples,
    udhr_held_out,
)
from silkroute.corpus.pipeline.base import Stage
from silkroute.corpus.pipeline.config import PipelineConfig
from silkroute.corpus.pipeline.executor import run_pipeline
from silkroute.corpus.pipeline.stats import StageStats
from silkroute.corpus.stages.text import LangId

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OUT = Path("out") / "bench" / "corpus.json"
DEFAULT_DOCS = 20_000
STAGE_SAMPLE = 4_000  # documents for each per-document stage alone, in this process
DEFAULT_STAGES: list[dict[str, Any]] = [
    {"name": "normalize"},
    {"name": "langid"},
    {"name": "language_filter", "params": {"min_score": 0.5}},
    {"name": "quality_filter"},
    {"name": "pii"},
    {"name": "exact_dedup"},
    {"name": "minhash_dedup"},
]
UNSPACED = {"tha": "Thai", "lao": "Lao", "khm": "Khmer", "mya": "Myanmar"}
UNSPACED |= {"cmn_hans": "Han", "cmn_hant": "Han"}
SCRIPTS = ["Latin", "Thai", "Lao", "Khmer", "Myanmar", "Han"]
# datatrove 0.10.1 on the issue's 100,000-document corpus, 2 cores (issue 16's table).
DATATROVE = {
    "read -> write": 24_500.0,
    "langid": 2_600.0,
    "quality_filter": 130.0,
    "dedup (exact + MinHash)": 347.0,
    "whole default pipeline": 163.0,
}
DATATROVE_DEDUP = {"removed": 23_614, "of": 100_000, "perfect": 20_000}
console = Console()


def script_of(code: str) -> str:
    return UNSPACED.get(code, "Latin")


def _content_lines(code: str) -> list[str]:
    text = (DATA_DIR / "udhr" / f"{code}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 20]


_WORD = re.compile(r"\S+")


def near_copy(text: str, code: str, rng: random.Random) -> str:
    """One to three edits: a word replaced or dropped (spaced scripts) or a letter changed."""
    for _ in range(rng.randint(1, 3)):
        words = list(_WORD.finditer(text))
        if script_of(code) == "Latin" and len(words) > 2 and rng.random() < 0.7:
            target = rng.choice(words)
            other = rng.choice(words).group() if rng.random() < 0.5 else ""
            text = text[: target.start()] + other + text[target.end() :]
            continue
        letters = [i for i, ch in enumerate(text) if ch.isalpha()]
        i = rng.choice(letters)
        text = text[:i] + text[rng.choice(letters)] + text[i + 1 :]
    return text


def synthetic_corpus(n_docs: int, seed: int) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """All UDHR languages in shared/data; originals are distinct random sets of 6-12 lines of
    one language; 10% exact and 10% near copies, each of a different random original, shuffled
    in. Returns the records ({id, text, lang}) and the truth ({id, lang, script, kind, of,
    jaccard})."""
    rng = random.Random(seed)
    codes = sorted(p.stem for p in (DATA_DIR / "udhr").glob("*.txt"))
    pools = {code: _content_lines(code) for code in codes}
    n_copies = n_docs // 10
    originals: list[tuple[str, str, str]] = []  # id, code, text
    used: set[tuple[str, frozenset[int]]] = set()
    while len(originals) < n_docs - 2 * n_copies:
        code = rng.choice(codes)
        picked = rng.sample(range(len(pools[code])), rng.randint(6, 12))
        if (code, frozenset(picked)) in used:
            continue
        used.add((code, frozenset(picked)))
        text = "\n".join(pools[code][i] for i in picked)
        originals.append((f"o{len(originals)}", code, text))
    records = [{"id": i, "text": t, "lang": c} for i, c, t in originals]
    truth = [
        {"id": i, "lang": c, "script": script_of(c), "kind": "original", "of": i, "jaccard": 1.0}
        for i, c, _ in originals
    ]
    # Each copied original gets one copy: two near copies of one original may share fewer than
    # 75% of their shingles with each other, and when both come before their original the rule
    # (removed only if similar to the kept document) rightly keeps both, which would blur recall.
    sources = rng.sample(originals, 2 * n_copies)
    for kind in ("exact", "near"):
        for k in range(n_copies):
            of, code, text = sources[k if kind == "exact" else n_copies + k]
            copy = text if kind == "exact" else near_copy(text, code, rng)
            similarity = 1.0
            if kind == "near":
                a, b = (shingle_hashes(x, "word", 5) for x in (text, copy))
                similarity = round(jaccard(a, b), 4)
            doc_id = f"{kind[0]}{k}"
            records.append({"id": doc_id, "text": copy, "lang": code})
            truth.append(
                {"id": doc_id, "lang": code, "script": script_of(code), "kind": kind}
                | {"of": of, "jaccard": similarity}
            )
    order = list(range(len(records)))
    rng.shuffle(order)
    return [records[i] for i in order], truth


def write_inputs(records: list[dict[str, str]], raw: Path, files: int, with_lang: bool) -> None:
    raw.mkdir(parents=True)
    per_file = max(1, -(-len(records) // files))
    for i in range(0, len(records), per_file):
        with (raw / f"part-{i:07d}.jsonl").open("w", encoding="utf-8") as handle:
            for record in records[i : i + per_file]:
                row = record if with_lang else {"id": record["id"], "text": record["text"]}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def peak_rss_mib() -> dict[str, float]:
    """Peak resident memory of this process and of the largest worker process so far."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"driver_mib": round(own, 1), "worker_mib": round(workers, 1)}


def cpu_seconds() -> float:
    """CPU time of this process and of every finished worker process so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def run_config(
    records: list[dict[str, str]],
    stages: list[dict[str, Any]],
    workers: int,
    with_lang: bool,
    keep: Path | None = None,
) -> dict[str, Any]:
    """One pipeline run over the records written as 8 files per worker; docs/s per core."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_inputs(records, root / "raw", files=workers * 8, with_lang=with_lang)
        config = PipelineConfig.model_validate(
            {
                "input": {"paths": [str(root / "raw")]},
                "output": {"dir": str(root / "out")},
                "workers": workers,
                "report": False,
                "stages": stages,
            }
        )
        start, cpu_start = time.perf_counter(), cpu_seconds()
        summary = run_pipeline(config)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_start
        removed = _removed_map(root / "out")
    return {
        "documents": len(records),
        "workers": workers,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        # per CPU-second: what one core does, whatever else the machine is running
        "docs_per_s_per_core": round(len(records) / cpu, 1),
        "wall_docs_per_s_per_core": round(len(records) / seconds / workers, 1),
        "output_documents": summary["output_documents"],
        "stage_seconds": {n: s["seconds"] for n, s in summary["stages"].items()},
        "kept_per_language": {
            lang: row["docs"]
            for lang, row in sorted(list(summary["stages"].values())[-1]["after"].items())
        },
        "dedup": summary["dedup_clusters"],
        "removed": removed,
        "memory": peak_rss_mib(),
    }


def _removed_map(out: Path) -> dict[str, str]:
    """Every document a dedup stage removed -> the document kept in its place."""
    removed: dict[str, str] = {}
    for path in sorted((out / "dedup").glob("*.removed.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                removed[row["id"]] = row["kept_id"]
    return removed


def dedup_quality(
    truth: list[dict[str, Any]], removed: dict[str, str], threshold: float
) -> dict[str, Any]:
    """Per script: planted exact and near copies caught (the copy and its original end with the
    same kept document), near copies at or above the threshold caught, and false removals (a
    document whose kept document is not of its own family)."""

    def final(doc_id: str) -> str:
        while doc_id in removed:
            doc_id = removed[doc_id]
        return doc_id

    family = {row["id"]: row["of"] for row in truth}
    sizes = Counter(family.values())
    table: dict[str, dict[str, int]] = defaultdict(Counter)  # type: ignore[arg-type]
    for row in truth:
        counts = table[row["script"]]
        if row["kind"] != "original":
            caught = final(row["id"]) == final(row["of"])
            counts[f"{row['kind']}_planted"] += 1
            counts[f"{row['kind']}_caught"] += caught
            if row["kind"] == "near" and row["jaccard"] >= threshold:
                counts["near_above_planted"] += 1
                counts["near_above_caught"] += caught
        if row["id"] in removed:
            counts["removed"] += 1
            if family.get(final(row["id"])) != row["of"]:
                counts["false_removals"] += 1
            if sizes[row["of"]] == 1:
                counts["removed_without_copy"] += 1
    return {script: dict(table[script]) for script in SCRIPTS if script in table}


def datatrove_quality(truth: list[dict[str, Any]], kept: set[str]) -> dict[str, dict[str, int]]:
    """datatrove keeps no record of which document replaced which: per script, copies caught
    (exactly one of a copy and its original kept) and documents removed without a planted copy."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in truth:
        members[row["of"]].append(row)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for rows in members.values():
        script = rows[0]["script"]
        survivors = sum(row["id"] in kept for row in rows)
        table[script]["removed"] += len(rows) - survivors
        if len(rows) == 1:
            table[script]["removed_without_copy"] += 1 - survivors
            continue
        kind = next(row["kind"] for row in rows if row["kind"] != "original")
        table[script][f"{kind}_planted"] += 1
        table[script][f"{kind}_caught"] += survivors == 1
    return {script: dict(table[script]) for script in SCRIPTS if script in table}


def run_datatrove(records: list[dict[str, str]], truth: list[dict[str, Any]]) -> dict[str, Any]:
    from benchmarks import datatrove_baseline

    with tempfile.TemporaryDirectory() as tmp:
        write_inputs(records, Path(tmp) / "raw", files=8, with_lang=False)
        result = datatrove_baseline.run(Path(tmp) / "raw", len(records))
    kept = set(result.pop("kept_ids"))
    result["dedup_quality"] = datatrove_quality(truth, kept)
    result["removed"] = len(records) - len(kept)
    return result


def stage_throughput(records: list[dict[str, str]], last: str | None = None) -> dict[str, float]:
    """Documents per second of each per-document stage alone, on one core, in this process;
    each stage gets the previous one's output (quality needs the language ID's labels). With
    `last`, the stages up to that one only."""
    stages = [s for s in DEFAULT_STAGES if s["name"] not in ("exact_dedup", "minhash_dedup")]
    if last is not None:
        stages = stages[: [s["name"] for s in stages].index(last) + 1]
    config = PipelineConfig.model_validate(
        {"input": {"paths": ["."]}, "output": {"dir": "."}, "stages": stages}
    )
    docs = [Document(r["id"], r["text"]) for r in records]
    rates: dict[str, float] = {}
    for stage in config.build_stages():
        batch = [Document(d.id, d.text, dict(d.meta)) for d in docs]
        list(stage.run([Document("warm", "warm up the models: not timed")], StageStats()))
        if stage.name == "langid":
            out, rates["langid"], rates["fasttext_alone"] = langid_and_fasttext(
                stage, batch, records
            )
        else:
            start = time.process_time()
            out = list(stage.run(batch, StageStats()))
            rates[stage.name] = round(len(batch) / (time.process_time() - start), 1)
        if stage.name != "language_filter":
            docs = out
    return rates


LANGID_TURN = 1000  # documents per turn when our language ID and fastText alone alternate


def langid_and_fasttext(
    stage: Stage, docs: list[Document], records: list[dict[str, str]]
) -> tuple[list[Document], float, float]:
    """Our language ID stage, and fastText lid.176 alone on each whole document with newlines
    as spaces (what datatrove's language filter does), on the same documents, in turns of
    LANGID_TURN documents: a load change on a shared machine hits both alike. Returns the
    stage's output and both rates (documents per CPU second)."""
    model = FastTextDetector().model
    model.predict("warm up", k=1)
    if isinstance(stage, LangId):  # every model loaded before timing, as fastText's is above
        stage.detector.load()
    ours = alone = 0.0
    out: list[Document] = []
    for first in range(0, len(docs), LANGID_TURN):
        texts = [r["text"].replace("\n", " ") for r in records[first : first + LANGID_TURN]]
        start = time.process_time()
        for text in texts:
            model.predict(text, k=1)
        alone += time.process_time() - start
        start = time.process_time()
        out += stage.run(docs[first : first + LANGID_TURN], StageStats())
        ours += time.process_time() - start
    return out, round(len(docs) / ours, 1), round(len(docs) / alone, 1)


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
    pair = {}
    if {"ind_Latn", "zsm_Latn"} <= set(labels):
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


def print_speed(result: dict[str, Any]) -> None:
    speed = Table(title=f"docs/s per core, {result['documents']:,} synthetic documents")
    for column in ("stage", "silkroute", "datatrove", "ratio", "wall-clock"):
        speed.add_column(column)
    measured = result.get("datatrove", {})
    here = {"read -> write": measured.get("read_write"), "dedup (exact + MinHash)": None}
    here["dedup (exact + MinHash)"] = measured.get("dedup")
    runs = {"read -> write": "read_write", "dedup (exact + MinHash)": "dedup_alone"}
    runs["whole default pipeline"] = "whole"
    rows = [(name, result[key]["docs_per_s_per_core"], result[key]) for name, key in runs.items()]
    rows.insert(1, ("langid", result["stages_alone"]["langid"], {}))
    rows.insert(2, ("quality_filter", result["stages_alone"]["quality_filter"], {}))
    for name, rate, run in rows:
        base = here.get(name) or DATATROVE[name]
        source = "here" if here.get(name) else "issue"
        wall = f"{run['wall_docs_per_s_per_core']:,.0f}" if run else ""
        speed.add_row(name, f"{rate:,.0f}", f"{base:,.0f} ({source})", f"{rate / base:.2f}x", wall)
    alone = result["stages_alone"]
    if "fasttext_alone" in alone:
        speed.add_row(
            "langid vs fastText lid.176 alone",
            f"{alone['langid']:,.0f}",
            f"{alone['fasttext_alone']:,.0f} (here)",
            f"{alone['langid'] / alone['fasttext_alone']:.2f}x",
            "",
        )
    for name in ("normalize", "language_filter", "pii"):
        speed.add_row(f"{name} (alone)", f"{alone[name]:,.0f}", "", "")
    console.print(speed)
    console.print(
        "docs/s per core = documents / CPU seconds (driver + workers), so a busy machine does "
        "not hide the cost; wall-clock: documents / elapsed / workers. datatrove (here): run on "
        "the same files in this process, CPU time (pip install '.\\[bench]'); (issue): the "
        "issue's figures (100,000 documents, 2 cores, wall-clock; language ID and Gopher need "
        "downloads at run time). "
        "Stages alone: CPU time, in process, on "
        f"{min(STAGE_SAMPLE, result['documents']):,} documents (language ID and fastText alone "
        f"in alternating turns of {LANGID_TURN}); read -> write: one "
        "language_filter (min_score 0), 1 worker; dedup and whole pipeline: "
        f"{result['whole']['workers']} workers."
    )
    for name in ("read_write", "dedup_alone", "whole"):
        mem = result[name]["memory"]
        console.print(
            f"peak memory after {name}: driver {mem['driver_mib']:.0f} MiB, "
            f"largest worker {mem['worker_mib']:.0f} MiB"
        )
    seconds = result["whole"]["stage_seconds"]
    console.print(
        "whole pipeline, CPU seconds per stage (all workers): "
        + ", ".join(f"{n} {v:.1f}" for n, v in seconds.items())
    )


def print_dedup(result: dict[str, Any]) -> None:
    quality = result["dedup_quality"]
    table = Table(title="dedup alone (exact + MinHash, word 5-grams, threshold 0.75), per script")
    columns = ["script", "exact caught", "near caught", "near >= 0.75 caught", "removed"]
    columns += ["false removals", "removed w/o planted copy"]
    for column in columns:
        table.add_column(column)

    def share(row: dict[str, int], kind: str) -> str:
        planted = row.get(f"{kind}_planted", 0)
        caught = row.get(f"{kind}_caught", 0)
        return f"{caught}/{planted} ({caught / planted:.1%})" if planted else "-"

    for script, row in quality.items():
        table.add_row(
            script,
            share(row, "exact"),
            share(row, "near"),
            share(row, "near_above"),
            str(row.get("removed", 0)),
            str(row.get("false_removals", 0)),
            str(row.get("removed_without_copy", 0)),
        )
    console.print(table)
    dedup = result["dedup_alone"]["dedup"]
    largest = max(info["largest_cluster"] for info in dedup.values())
    total_removed = sum(info["removed"] for info in dedup.values())
    perfect = result["planted_copies"]
    console.print(
        f"removed {total_removed:,} of {result['documents']:,} (a perfect pass: {perfect:,}; "
        f"datatrove in the issue: {DATATROVE_DEDUP['removed']:,} of "
        f"{DATATROVE_DEDUP['of']:,}, perfect {DATATROVE_DEDUP['perfect']:,}); largest cluster "
        f"{largest}; near copies below the threshold (true word-5-gram Jaccard < 0.75): "
        f"{result['near_below_threshold']:,}"
    )
    if "datatrove" in result:
        dt = result["datatrove"]
        rows = []
        for script, row in dt["dedup_quality"].items():
            exact = f"{row.get('exact_caught', 0)}/{row.get('exact_planted', 0)}"
            near = f"{row.get('near_caught', 0)}/{row.get('near_planted', 0)}"
            rows.append(
                f"{script} exact {exact} near {near} w/o copy {row.get('removed_without_copy', 0)}"
            )
        console.print(
            f"datatrove MinHash (14 x 8, word 5-grams, union of LSH pairs): removed "
            f"{dt['removed']:,} of {result['documents']:,}; " + "; ".join(rows)
        )
    kept = result["whole"]["kept_per_language"]
    console.print(
        "whole pipeline, documents kept per language: "
        + ", ".join(f"{lang} {n}" for lang, n in kept.items())
    )


def print_accuracy(result: dict[str, Any]) -> None:
    for key, title in (
        ("udhr_held_out", "language ID, held-out UDHR lines (IN-DOMAIN for our profiles)"),
        ("authored", "language ID, authored sentences (out of domain)"),
        ("spacy_examples", "language ID, spaCy's shipped example sentences (out of domain, tiny)"),
        ("eld_big_test", "language ID, eld's shipped big test, test half (out of domain: news)"),
        ("chatterbot_indonesian", "language ID, chatterbot-corpus Indonesian (out of domain)"),
        ("nlpid_indonesian", "language ID, nlp-id's Indonesian news sentences (out of domain)"),
        ("django_translations", "language ID, Django's Malay/Indonesian messages (out of domain)"),
    ):
        if key not in result["langid"]:
            continue
        acc = result["langid"][key]
        table = Table(title=f"{title}: {acc['lines']} lines")
        names = list(acc["macro"])
        table.add_column("language")
        for name in names:
            table.add_column(name)
        for label in sorted(acc["per_language"]["ours"]):
            table.add_row(label, *(f"{acc['per_language'][n][label]:.2f}" for n in names))
        table.add_row("macro", *(f"{acc['macro'][n]:.3f}" for n in names))
        if acc["ind_zsm_accuracy"]:
            table.add_row("ind+zsm", *(f"{acc['ind_zsm_accuracy'][n]:.3f}" for n in names))
        console.print(table)
    cutoff = result.get("regional_cutoff")
    if cutoff:
        console.print(
            f"regional languages (Kapampangan, Bikol, Minangkabau...): cut-off "
            f"{cutoff['cut']} chosen on odd held-out UDHR lines + dev sentences; on the even "
            f"lines {cutoff['report'][0]:.3f} right or uncertain, "
            f"{cutoff['report'][1]:.3f} of other languages' lines flagged"
        )
    for name, acc in result["lingua_ind_msa_only"].items():
        console.print(
            f"lingua restricted to Indonesian+Malay, {name}: ind {acc['ind_Latn']:.2f}, "
            f"zsm {acc['zsm_Latn']:.2f}, mean {acc['mean']:.3f}"
        )
    seg = Table(title="segmentation, word-boundary F1 on gold sentences")
    for column in ("script", "segmenter", "F1", "sentences exact"):
        seg.add_column(column)
    for script, scores in result["segmentation"].items():
        for name, score in scores.items():
            seg.add_row(script, name, f"{score['f1']:.3f}", f"{score['exact']:.2f}")
    console.print(seg)


def accuracy() -> dict[str, Any]:
    detectors = _detectors()
    sets = {"udhr_held_out": udhr_held_out(DATA_DIR), "authored": authored()}
    for name, rows in (
        ("spacy_examples", spacy_examples()),
        ("eld_big_test", eld_big_test("test")),
        ("chatterbot_indonesian", chatterbot_indonesian()),
        ("nlpid_indonesian", nlpid_indonesian()),
        ("django_translations", django_translations()),
    ):
        if rows:
            sets[name] = rows
        else:
            console.print(
                f"{name}: skipped, its package is not installed (pip install '.\\[eval]', "
                "'.\\[bench]', or for nlp-id: pip install --no-deps nlp-id)"
            )
    choosing = regional_cutoff.outcomes(
        regional_cutoff.split_lines(DATA_DIR, 1) + regional_cutoff.dev_lines()
    )
    cut = regional_cutoff.choose(choosing)
    reporting = regional_cutoff.outcomes(regional_cutoff.split_lines(DATA_DIR, 0))
    return {
        "langid": {name: langid_accuracy(rows, detectors) for name, rows in sets.items()},
        "lingua_ind_msa_only": {
            name: lingua_ind_msa(rows)
            for name, rows in sets.items()
            if {"ind_Latn", "zsm_Latn"} <= {label for label, _ in rows}
        },
        "regional_cutoff": {
            "cut": cut,
            "choose": regional_cutoff.rates(choosing, cut),
            "report": regional_cutoff.rates(reporting, cut),
        },
        "segmentation": segmentation_scores(),
    }


def throughput(n_docs: int, workers: int, seed: int) -> dict[str, Any]:
    records, truth = synthetic_corpus(n_docs, seed)
    result: dict[str, Any] = {"documents": n_docs, "seed": seed}
    result["planted_copies"] = sum(row["kind"] != "original" for row in truth)
    result["near_below_threshold"] = sum(
        row["kind"] == "near" and row["jaccard"] < 0.75 for row in truth
    )
    pass_through = [{"name": "language_filter", "params": {"min_score": 0.0}}]
    console.print(f"read -> write, {n_docs:,} documents, 1 worker ...")
    result["read_write"] = run_config(records, pass_through, 1, with_lang=False)
    console.print("dedup alone (documents carry their language) ...")
    dedup_stages = [{"name": "exact_dedup"}, {"name": "minhash_dedup"}]
    result["dedup_alone"] = run_config(records, dedup_stages, workers, with_lang=True)
    result["dedup_quality"] = dedup_quality(truth, result["dedup_alone"].pop("removed"), 0.75)
    console.print(f"each stage alone on {min(STAGE_SAMPLE, n_docs):,} documents ...")
    result["stages_alone"] = stage_throughput(records[:STAGE_SAMPLE])
    console.print(f"whole default pipeline, {workers} workers ...")
    result["whole"] = run_config(records, DEFAULT_STAGES, workers, with_lang=False)
    result["whole"].pop("removed")
    result["read_write"].pop("removed")
    from benchmarks import datatrove_baseline

    if datatrove_baseline.available():
        console.print("datatrove 0.10 on the same documents (read -> write, MinHash) ...")
        result["datatrove"] = run_datatrove(records, truth)
    return result


def langid_only(n_docs: int, seed: int) -> None:
    """The language-ID row alone: the stage and fastText lid.176 alone on the same documents
    as in the full run (the first STAGE_SAMPLE of the corpus, normalized), alternating turns."""
    records, _ = synthetic_corpus(n_docs, seed)
    rates = stage_throughput(records[:STAGE_SAMPLE], last="langid")
    load = os.getloadavg()[0]
    console.print(
        f"language ID {rates['langid']:,.0f} docs/s, fastText lid.176 alone "
        f"{rates['fasttext_alone']:,.0f} docs/s (CPU time, {min(STAGE_SAMPLE, n_docs):,} of "
        f"{n_docs:,} documents): {rates['langid'] / rates['fasttext_alone']:.2f}x "
        f"(load average {load:.1f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus_bench")
    default_docs = int(os.environ.get("CORPUS_BENCH_DOCS", DEFAULT_DOCS))
    parser.add_argument("--docs", type=int, default=default_docs, help="synthetic documents")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accuracy-only", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument(
        "--langid-only",
        action="store_true",
        help="only language ID against fastText alone (alternating turns), then exit",
    )
    args = parser.parse_args(argv if argv is not None else [])
    if not (DATA_DIR / "udhr").is_dir():
        console.print(
            f"corpus benchmark skipped: the UDHR texts are not at {DATA_DIR / 'udhr'} "
            "(../shared/data is absent)"
        )
        return
    result: dict[str, Any] = {}
    if args.langid_only:
        langid_only(args.docs, args.seed)
        return
    if not args.accuracy_only:
        result = throughput(args.docs, args.workers, args.seed)
        print_speed(result)
        print_dedup(result)
    if not args.speed_only:
        result |= accuracy()
        print_accuracy(result)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
