"""`python -m lantian` = the `lantian` command."""

from lantian.cli import app

app()
