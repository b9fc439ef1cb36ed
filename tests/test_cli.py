import subprocess
import sys

from deepcollapse.cli import main


def test_help_lists_subcommands(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "info" in out


def test_info_prints_provenance():
    proc = subprocess.run([sys.executable, "-m", "deepcollapse", "info"], capture_output=True, text=True, check=True)
    assert '"versions"' in proc.stdout and '"git"' in proc.stdout
