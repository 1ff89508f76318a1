"""`silkroute` command line."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from silkroute.agent.cli import register as register_agent_commands
from silkroute.audit.cli import audit_app
from silkroute.console import OneLineErrors, check_number, make_out_folder
from silkroute.console import fail as console_fail
from silkroute.corpus.cli import corpus_app
from silkroute.governance_cli import register as register_governance_commands
from silkroute.model.errors import SpecError
from silkroute.platform_cli import register as register_platform_commands
from silkroute.policy.cli import policy_app
from silkroute.sim.packing.cli import packing_command
from silkroute.sim.trace_cli import trace_app

app = typer.Typer(
    help="silkroute: federated AI compute scheduling, data governance and the ASEAN corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)
sim_app = typer.Typer(help="Simulate scheduling policies over traces.")
app.add_typer(sim_app, name="sim")
app.add_typer(corpus_app, name="corpus")
app.add_typer(trace_app, name="trace")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
sim_app.command("packing")(packing_command)
register_platform_commands(app)  # server, admin, site, tenant, submit, jobs, ... (issue 12)
register_governance_commands(app)  # dataset, compliance, explain (issue 14)
register_agent_commands(app)  # agent, agent-token (issue 13)
# Tables are wide; do not squeeze them into 80 columns when output is piped.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    return console_fail(message)


@sim_app.callback(invoke_without_command=True)
def sim(
    ctx: typer.Context,
    trace: Annotated[
        str, typer.Option(help="openb folder, `auto`, `synthetic`, or a JSONL trace")
    ] = "auto",
    policy: Annotated[
        str, typer.Option(help="Comma-separated ORDER[:BACKFILL[:PLACEMENT]] policies")
    ] = "fifo,priority,fairshare,las",
    load: Annotated[float, typer.Option(help="Compress arrivals by this factor")] = 1.0,
    sites: Annotated[int, typer.Option(help="Split the cluster into this many sites")] = 1,
    shrink: Annotated[
        float, typer.Option(help="Keep this fraction of the nodes (0 < F <= 1)")
    ] = 1.0,
    cluster: Annotated[
        str | None,
        typer.Option(help="Cluster file (synthetic, Gavel and JSONL traces; openb has its own)"),
    ] = None,
    jobs: Annotated[int | None, typer.Option(help="Jobs to generate or to keep")] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random choice")] = 0,
    estimates: Annotated[
        str, typer.Option(help="Time limits for backfill: exact, none, or xF")
    ] = "exact",
    step_interval: Annotated[
        float, typer.Option(help="Schedule in batches: at most one step per this many seconds")
    ] = 0.0,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("out/sim"),
) -> None:
    """Replay a trace through the scheduler with several policies; print a table."""
    if ctx.invoked_subcommand is not None:
        return
    from silkroute.sim.report import table, write_results
    from silkroute.sim.runner import PolicySpec, run_policy
    from silkroute.sim.workloads import load_workload

    check_number("--step-interval", step_interval, least=0)
    try:
        specs = [PolicySpec.parse(p) for p in policy.split(",") if p.strip()]
        if not specs:
            raise ValueError(f"--policy: no policy in {policy!r}; e.g. fifo,las:easy:packing")
        workload = load_workload(
            trace,
            cluster=cluster,
            load=load,
            sites=sites,
            seed=seed,
            estimates=estimates,
            jobs=jobs,
            shrink=shrink,
        )
    except (SpecError, ValueError) as exc:
        raise fail(str(exc)) from None
    make_out_folder("--out", out)  # before the run: a bad --out must not cost the results
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=errors) as bar:
        for spec in specs:
            events = 2 * len(workload.jobs)
            task = bar.add_task(f"{spec.name:>20}", total=events)
            advance = partial(bar.advance, task)
            results.append(run_policy(workload, spec, advance, step_interval_s=step_interval))
            bar.update(task, completed=events)
    title = f"{workload.name}: {len(workload.jobs):,} jobs, {len(workload.nodes):,} nodes"
    console.print(table(results, title))
    dropped = {r.policy: int(r.metrics.get("jobs_dropped", 0)) for r in results}
    if any(dropped.values()):  # they were in results.json only: a table of dashes, unexplained
        counts = ", ".join(f"{policy} {n:,}" for policy, n in dropped.items())
        errors.print(
            f"warning: jobs that can never run on this cluster were dropped ({counts}); "
            "results.json has them as jobs_dropped",
            highlight=False,
            soft_wrap=True,
        )
    try:
        write_results(out, results, {"name": workload.name, **workload.notes}, console)
    except OSError as exc:
        raise fail(f"--out {out}: cannot write: {exc.strerror}") from None


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A job file (YAML) or cluster file")],
) -> None:
    """Check a job or cluster file; print what it asks for, or what is wrong."""
    from silkroute.model.cluster import load_cluster
    from silkroute.model.errors import read_yaml
    from silkroute.model.job import load_jobs

    try:
        raw = read_yaml(path, "file")
        if isinstance(raw, dict) and "sites" in raw:
            spec = load_cluster(path)
            console.print(
                f"cluster {spec.name}: {len(spec.sites)} sites, "
                f"{sum(spec.total_accelerators().values()):,} accelerators, "
                f"{spec.peak_pflops():,.0f} PFLOPS peak dense BF16/FP16"
            )
            return
        for job in load_jobs(path):
            console.print(
                f"job {job.name}: {job.kind.value}, tenant {job.tenant}, "
                f"{job.workers} x {job.accelerators_per_worker:g} accelerators"
            )
    except SpecError as exc:
        raise fail(str(exc)) from None


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
