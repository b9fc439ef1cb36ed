"""`python -m deepcollapse` is the `deepcollapse` command (the workflow uses this form so that a
job always runs the interpreter of the environment that launched it)."""

from .cli import entry

entry()
