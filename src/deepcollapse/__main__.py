"""`python -m deepcollapse` is the `deepcollapse` command (the workflow uses this form so that a
job always runs the interpreter of the environment that launched it)."""

import sys

from .cli import main

sys.exit(main())
