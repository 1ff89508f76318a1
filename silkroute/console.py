"""How the command line reports an error: `error: MESSAGE` on stderr, never wrapped.

Rich wraps long lines at the terminal width, which splits a path or a field name across lines
(and scripts that grep the message miss it); an error is printed as plain text instead, one
line per problem, whatever the width. Colour only on a terminal; no markup is interpreted, so
a message holding `[...]` (a field like `jobs[0]`) prints as it is.
"""

from __future__ import annotations

import sys

import typer


def print_error(message: str) -> None:
    label = typer.style("error:", fg="red") if sys.stderr.isatty() else "error:"
    typer.echo(f"{label} {message}", err=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print the error; the caller raises what this returns (`raise fail(...) from None`)."""
    print_error(message)
    return typer.Exit(code=code)
