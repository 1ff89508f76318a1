"""How the command line reports an error: `error: MESSAGE` on stderr, never wrapped.

Rich wraps long lines at the terminal width, which splits a path or a field name across lines
(and scripts that grep the message miss it); an error is printed as plain text instead, one
line per problem, whatever the width. Colour only on a terminal; no markup is interpreted, so
a message holding `[...]` (a field like `jobs[0]`) prints as it is.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup


def print_error(message: str) -> None:
    label = typer.style("error:", fg="red") if sys.stderr.isatty() else "error:"
    typer.echo(f"{label} {message}", err=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print the error; the caller raises what this returns (`raise fail(...) from None`)."""
    print_error(message)
    return typer.Exit(code=code)


def check_number(option: str, value: float | None, *, least: float, strict: bool = False) -> None:
    """Refuse NaN, infinity and numbers below `least` (or equal to it, if `strict`), naming
    the option: a typed float option takes `nan`, a loop ticking every NaN, 0 or -1 seconds
    spins, and JSON cannot carry NaN."""
    if value is None:
        return
    low = value <= least if strict else value < least
    if not math.isfinite(value) or low:
        bound = f"{'>' if strict else '>='} {least:g}"
        raise fail(f"{option}: must be a finite number {bound} (got {value:g})")


def check_port(port: int) -> None:
    """Refuse a port no socket can listen on, naming `--port` (uvicorn would take 99999
    modulo 65536 and serve elsewhere)."""
    if not 1 <= port <= 65535:
        raise fail(f"--port: must be between 1 and 65535 (got {port})")


def make_out_folder(option: str, folder: Path) -> None:
    """Create an output folder before the work starts, or refuse it naming the option: a file
    in the way, or a folder that cannot be made, failed with a traceback once the work was
    done, and the work was lost."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise fail(f"{option} {folder}: is a file, not a folder") from None
    except OSError as exc:
        raise fail(f"{option} {folder}: cannot create the folder: {exc.strerror}") from None
    if not folder.is_dir():  # a file further up the path
        raise fail(f"{option} {folder}: is not a folder")


class OneLineErrors(TyperGroup):
    """Usage errors (a missing option, `abc` for a number, an unknown command) as one
    `error:` line naming the command's help, like every other error: typer draws them in a
    box wrapped at the terminal width."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:  # click's usage errors, as typer vendors them
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help, asked for by no args
                if exc.format_message():  # rich has printed it already, else here
                    typer.echo(exc.format_message(), err=True)
                sys.exit(exc.exit_code)
            context = getattr(exc, "ctx", None)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            print_error(exc.format_message() + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
