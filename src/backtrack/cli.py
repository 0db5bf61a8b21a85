"""The ``backtrack`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="backtrack-lab: search in LM reasoning.")


@app.command()
def run(recipe: str = typer.Argument(None, help="TOML recipe; the embedded default study when omitted")) -> None:
    """Run a study (data -> train -> eval -> report). Not built yet."""
    typer.echo("backtrack run: the study pipeline is not built yet (see the open issues).", err=True)
    raise typer.Exit(2)


def main() -> None:
    app()
