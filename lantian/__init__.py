"""Lantian process glue: the `lantian` command and the local stack behind `make run`."""
