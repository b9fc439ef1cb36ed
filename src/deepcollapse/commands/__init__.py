"""Argument parsing for each `deepcollapse` subcommand (one module per subcommand).

Keep these modules light: import heavy dependencies (torch, xarray) inside ``run`` so that
``deepcollapse --help`` answers instantly.
"""
