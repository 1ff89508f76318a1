"""`silkroute corpus ...` commands (placeholder until the corpus pipeline lands)."""

import typer

corpus_app = typer.Typer(help="ASEAN Languages Corpus pipeline.", no_args_is_help=True)
