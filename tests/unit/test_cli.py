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


def test_the_key_that_train_and_info_name_as_an_example_exists_in_params_yaml():
    """`--key`'s help shows a section of params.yaml; it must be there and hold training fields
    (the help once named networks.runs.mnist_mse, which params.yaml never had)."""
    from deepcollapse.cli import build_parser
    from deepcollapse.config import from_mapping, load_yaml
    from deepcollapse.nets.config import TrainConfig
    from tests.support import ROOT

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for command in ("train", "info"):
        key_help = next(a.help for a in sub.choices[command]._actions if a.dest == "key")
        example = re.search(r"e\.g\. ([\w.]+)", key_help).group(1)
        assert example == "networks.train", (command, key_help)
        from_mapping(TrainConfig, load_yaml(str(ROOT / "params.yaml"), key=example))
