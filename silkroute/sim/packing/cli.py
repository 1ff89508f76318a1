"""`silkroute sim packing` (placeholder until the packing experiment lands)."""

import typer


def packing_command() -> None:
    """Reproduce the FGD paper's packing experiment on the openb trace."""
    raise typer.Exit(code=2)
