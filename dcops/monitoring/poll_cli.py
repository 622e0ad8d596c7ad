"""(work in progress)"""

import typer

app = typer.Typer()
