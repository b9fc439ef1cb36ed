"""workflow/scripts/gpu_kit.py: the wheels the GPU image lacks, and their installation without pip.

The kit must carry every distribution the GPU steps import that the image does not have: checked
here by running the steps' commands (train, features, metrics, report summary) in a fresh process
that can import nothing else (matplotlib included).
The whole kit on CPU, end to end: tests/system/test_gpu_kit.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

_spec = importlib.util.spec_from_file_location("gpu_kit", ROOT / "workflow/scripts/gpu_kit.py")
gpu_kit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_kit)

TINY = {"dataset": "digits", "train_per_class": 10, "test_per_class": 5, "width": 0.125, "batch_size": 32,
        "epochs": 1, "checkpoints": [0, 1], "device": "cpu", "threads": 1}

# What the GPU steps do, in an interpreter that sees only the standard library, the package and a
# folder holding the distributions of the GPU image and of the kit (`python -S`: no site-packages).
# Optional imports of other packages installed here (torch tries pydot, psutil, rich) fail there
# as they would on the image.
STEPS = """
import sys
from deepcollapse.cli import main
out, config = sys.argv[1], sys.argv[2]
for argv in (["train", "--config", config, "--out", out + "/run", "--no-progress"],
             ["features", "--run", out + "/run", "--out", out + "/f.zarr", "--test", "--no-progress"],
             ["metrics", "--features", out + "/f.zarr", "--out", out + "/m.zarr", "--no-progress"],
             ["report", "summary", "--store", "run=" + out + "/m.zarr", "--along", "epoch", "--out", out + "/s.json"]):
    assert main(argv) == 0, argv
assert "matplotlib" not in sys.modules
"""


def _site_of(folder, allowed: set[str]):
    """`folder` with links to the files of the `allowed` distributions installed here."""
    import importlib.metadata as md

    folder.mkdir()
    for dist in md.distributions():
        if gpu_kit._canon(dist.metadata["Name"]) not in allowed:
            continue
        for top in {Path(str(f)).parts[0] for f in dist.files or []} - {"..", "__pycache__"}:
            source, target = Path(dist.locate_file(top)), folder / top
            if source.exists() and not target.exists():
                target.symlink_to(source)
    return folder


def test_the_kit_carries_zarr_3_and_its_dependencies_not_what_the_image_has():
    needed = gpu_kit.needed_distributions()
    assert {"zarr", "numcodecs", "donfig", "google-crc32c", "pyyaml", "jsonschema", "tqdm"} <= set(needed)
    assert int(needed["zarr"].split(".")[0]) >= 3
    # the image's own packages and what they require (typing-extensions: torch; packaging: xarray)
    assert not {"torch", "numpy", "scipy", "xarray", "typing-extensions", "packaging", "pandas", "matplotlib"} & set(needed)


def test_the_gpu_steps_run_with_only_the_image_and_the_kit(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    environment = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux", "platform_system": "Linux",
                   "platform_machine": "x86_64", "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix"}
    allowed = set(gpu_kit._closure(gpu_kit.IMAGE, environment)) | set(gpu_kit.needed_distributions())
    assert "matplotlib" not in allowed and {"zarr", "torch"} <= allowed
    site = _site_of(tmp_path / "site", allowed)
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{site}", OMP_NUM_THREADS="1")
    blind = subprocess.run([sys.executable, "-S", "-c", "import pydot"], capture_output=True, text=True, env=env)
    assert blind.returncode == 1 and "No module named 'pydot'" in blind.stderr  # installed here, not visible there
    result = subprocess.run([sys.executable, "-S", "-c", STEPS, str(tmp_path), str(config)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "s.json").is_file()


def _kit_with_wheel(tmp_path, python: str):
    kit = tmp_path / "kit"
    (kit / "wheels").mkdir(parents=True)
    (kit / "manifest.json").write_text(json.dumps({"python": python}))
    with zipfile.ZipFile(kit / "wheels" / "kitprobe-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("kitprobe_module.py", "ANSWER = 42\n")
        wheel.writestr("kitprobe-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: kitprobe\nVersion: 1.0\n")
    return kit


def test_install_unpacks_the_wheels_when_a_module_is_missing(tmp_path):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    kit, site = _kit_with_wheel(tmp_path, here), tmp_path / "site"
    assert "unpacked 1 wheels" in gpu_kit.install(kit, site, probe=("kitprobe_module",))
    check = subprocess.run([sys.executable, "-c", "import kitprobe_module; print(kitprobe_module.ANSWER)"],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(site)))
    assert check.stdout.strip() == "42"
    # nothing to do where everything imports (the CPU dry run: this venv has zarr 3)
    assert "nothing installed" in gpu_kit.install(kit, tmp_path / "other", probe=("json",))
    assert not (tmp_path / "other").exists()


def test_install_refuses_wheels_of_another_python_in_one_line(tmp_path):
    kit = _kit_with_wheel(tmp_path, "3.99")
    with pytest.raises(SystemExit, match=r"kit's wheels are for Python 3\.99, this is 3\.\d+$"):
        gpu_kit.install(kit, tmp_path / "site", probe=("kitprobe_module",))


def test_the_benchmark_takes_the_store_it_is_given_or_stops_in_one_line(tmp_path):
    """bench_nets.py once fell back silently to the 8x8 digits when Fashion-MNIST was absent."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, str(ROOT / "tests/benchmarks/bench_nets.py"), "--data", str(tmp_path / "absent.zarr"), "--device", "cpu"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "absent.zarr" in result.stderr, result.stderr
