"""Argument parsing for each `deepcollapse` subcommand (one module per subcommand).

Keep these modules light: the CLI imports every one of them to build its parser
(`deepcollapse.cli.build_parser`), so whatever a command module imports at its top every
``deepcollapse`` call pays, ``--help`` and a refused input included (torch alone takes seconds).
So a command module imports the package's modules and the heavy dependencies (torch, xarray)
inside ``run``: the one place in the package where imports are function-local, each module saying
so in a ``# lazy imports:`` comment (tests/unit/test_architecture.py holds the rule).
"""
