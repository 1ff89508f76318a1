"""`silkroute trace ...` commands (placeholder until trace conversion lands)."""

import typer

trace_app = typer.Typer(help="Convert public traces to silkroute's neutral JSONL format.")
