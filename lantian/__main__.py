"""`python -m lantian` = the `lantian` command."""

from lantian.cli import app

if __name__ == "__main__":  # spawned processes (benchmarks) re-import this module
    app()
