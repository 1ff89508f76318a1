"""`silkroute policy`: ask the jurisdiction rules about one transfer; list and check the rules.

Exit codes of `policy check`: 0 allow, 1 deny, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from silkroute.model.errors import SpecError
from silkroute.policy.engine import RuleBook, Transfer, Verdict
from silkroute.policy.loader import RULES_DIR, load_rules
from silkroute.policy.vocabulary import DataClass, Mechanism

EXIT_ALLOW, EXIT_DENY, EXIT_BAD_INPUT = 0, 1, 2

policy_app = typer.Typer(
    help="Cross-border data rules: check a transfer, list and validate the rule files.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)

# The default is shown by name, not as the absolute path of the installed package.
RulesOption = Annotated[
    Path,
    typer.Option(
        "--rules", help="Folder of rule files", show_default="the shipped silkroute/policy/rules"
    ),
]


def fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True, markup=True)
    return typer.Exit(code=EXIT_BAD_INPUT)


def parse_mechanisms(text: str) -> frozenset[Mechanism]:
    held = set()
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        try:
            held.add(Mechanism(word))
        except ValueError:
            valid = ", ".join(m.value for m in Mechanism)
            raise ValueError(f"--mechanisms: unknown mechanism {word!r}; valid: {valid}") from None
    return frozenset(held)


def parse_date(text: str | None) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--date: {text!r} is not a date (YYYY-MM-DD)") from None


def _book(rules: Path) -> RuleBook:
    try:
        return load_rules(rules, require_all=rules == RULES_DIR)
    except SpecError as exc:
        raise fail(str(exc).splitlines()[0]) from None


@policy_app.command("check")
def check(
    origin: Annotated[str, typer.Option(help="Country whose law governs the data (ISO code)")],
    data_class: Annotated[
        str, typer.Option(help="public, personal, sensitive_personal, important or core")
    ],
    destination: Annotated[str, typer.Option(help="Country the data would go to (ISO code)")],
    subjects: Annotated[
        int, typer.Option(help="Data subjects sent abroad this calendar year, this transfer in")
    ] = 0,
    mechanisms: Annotated[str, typer.Option(help="Mechanisms held, comma-separated")] = "",
    date: Annotated[
        str | None, typer.Option(help="Decide under the rules in force on YYYY-MM-DD (today)")
    ] = None,
    ciio: Annotated[bool, typer.Option(help="The exporter is a CII operator")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
    rules: RulesOption = RULES_DIR,
) -> None:
    """Allow or deny one transfer, the rule and its legal source, and what would unblock it.

    Exit code 0: allow; 1: deny; 2: bad input.
    """
    try:
        held = parse_mechanisms(mechanisms)
        on = parse_date(date)
        kind = _data_class(data_class)
        if subjects < 0:
            raise ValueError(f"--subjects: must be 0 or more (got {subjects})")
        origin, destination = _country("--origin", origin), _country("--destination", destination)
    except ValueError as exc:
        raise fail(str(exc)) from None
    book = _book(rules)
    if origin not in book.files:
        raise fail(f"--origin: no rule file for {origin}; known: {', '.join(book.jurisdictions)}")
    verdict = book.decide(Transfer(origin, kind, destination, subjects, ciio), held, on)
    if as_json:
        payload: dict[str, object] = {"origin": origin, "destination": destination}
        payload["date"] = on.isoformat()
        payload |= {"rules_version": book.version, **verdict.as_json()}
        print(json.dumps(payload, ensure_ascii=False))
    else:
        _print_verdict(verdict, f"{origin} {kind.value} -> {destination} on {on}")
    raise typer.Exit(EXIT_ALLOW if verdict.allowed else EXIT_DENY)


@policy_app.command("rules")
def list_rules(
    origin: Annotated[str | None, typer.Option(help="Only this jurisdiction")] = None,
    date: Annotated[str | None, typer.Option(help="Only rules in force on YYYY-MM-DD")] = None,
    rules: RulesOption = RULES_DIR,
) -> None:
    """The rules, in the order they are read, with their sources and effective dates."""
    try:
        on = parse_date(date) if date else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    book = _book(rules)
    if origin and origin.upper() not in book.files:
        known = ", ".join(book.jurisdictions)
        raise fail(f"--origin: no rule file for {origin}; known: {known}")
    table = Table("rule", "classes", "outcome", "in force", "legal basis", "?")
    for code in book.jurisdictions:
        if origin and code != origin.upper():
            continue
        for rule in book.files[code].rules:
            if on is not None and not rule.in_force(on):
                continue
            outcome = rule.outcome.value
            if rule.requires_any:
                outcome += " " + " | ".join("+".join(g) for g in rule.requires_any)
            until = rule.effective_until.isoformat() if rule.effective_until else ""
            table.add_row(
                rule.id,
                ",".join(rule.data_classes),
                outcome,
                f"{rule.effective_from}..{until}",
                rule.legal_basis,
                "uncertain" if rule.uncertain else "",
            )
    console.print(table)
    console.print(f"rules version {book.version}")


@policy_app.command("validate")
def validate(rules: RulesOption = RULES_DIR) -> None:
    """Check every rule file; print the first problem as FILE:LINE: field: reason."""
    book = _book(rules)
    count = sum(len(f.rules) for f in book.files.values())
    console.print(f"{len(book.files)} jurisdictions, {count} rules: version {book.version}")


def _data_class(text: str) -> DataClass:
    try:
        return DataClass(text)
    except ValueError:
        valid = ", ".join(c.value for c in DataClass)
        raise ValueError(f"--data-class: unknown class {text!r}; valid: {valid}") from None


def _country(flag: str, text: str) -> str:
    code = text.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise ValueError(f"{flag}: {text!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _print_verdict(verdict: Verdict, what: str) -> None:
    colour = "green" if verdict.allowed else "red"
    console.print(f"[{colour}]{verdict.verdict}[/{colour}]  {what}", highlight=False)
    console.print(f"  rule:        {verdict.rule}", highlight=False)
    console.print(f"  legal basis: {verdict.legal_basis}", highlight=False, soft_wrap=True)
    if verdict.source:
        console.print(f"  source:      {verdict.source}", highlight=False, soft_wrap=True)
    if verdict.satisfied_by:
        console.print(f"  satisfied by: {'+'.join(verdict.satisfied_by)}", highlight=False)
    if verdict.unblock:
        console.print(f"  unblock:     {verdict.unblock}", highlight=False, soft_wrap=True)
    if verdict.uncertain:
        console.print("  [yellow]this rule is marked uncertain: ask counsel[/yellow]")
    if verdict.note:
        console.print(f"  note:        {verdict.note.strip()}", highlight=False, soft_wrap=True)
