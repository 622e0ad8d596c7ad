"""(work in progress)"""

import typer

app = typer.Typer(help="Forecast and budget plan.", no_args_is_help=True)
