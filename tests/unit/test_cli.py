import re
import subprocess
import sys

import pytest

from deepcollapse.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    listed = set(re.findall(r"^    (\w+)\s", out, re.M))
    assert listed == set(SUBCOMMANDS), out


def test_info_prints_provenance():
    proc = subprocess.run([sys.executable, "-m", "deepcollapse", "info"], capture_output=True, text=True, check=True)
    assert '"versions"' in proc.stdout and '"git"' in proc.stdout
