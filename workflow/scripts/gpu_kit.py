"""The GPU kit: what a GPU machine without a package index needs, built on a CPU machine; and the
Python halves of `gpu-reference.sh`'s steps.

    python workflow/scripts/gpu_kit.py build KIT [--no-wheels] [--per-class N]
    python workflow/scripts/gpu_kit.py install KIT SITE          # on the GPU machine (stdlib only)
    python workflow/scripts/gpu_kit.py resume-check --config C --work DIR --out JSON
    python workflow/scripts/gpu_kit.py smoke-summary DIR --out JSON
    python workflow/scripts/gpu_kit.py compare-metrics A.zarr B.zarr --names fp32 tf32 --out JSON

`build` writes KIT/wheels/ (a wheel, for CPython 3.12 on x86_64 Linux, of every distribution the
package needs that the GPU image lacks: `needed_distributions`), KIT/data.zarr (a store of
`deepcollapse data`: Fashion-MNIST from Debian's dataset-fashion-mnist package when installed, else
scikit-learn's bundled digits, said in the manifest) and KIT/manifest.json; refused above
`LIMIT_BYTES` (what one device call carries).  The wheels are the versions installed here, so the
GPU machine runs what the tests ran.  `install` unpacks them into SITE (a wheel is a zip archive;
no pip, no index) unless everything already imports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 64 << 20  # one device call carries at most 64 MiB
#: What the GPU image has (the device tool's description): torch, torchvision, xarray,
#: scikit-learn, numba, JAX, numpy, scipy, and, as installed here, what they require.
IMAGE = ("torch", "torchvision", "xarray", "scikit-learn", "numba", "jax", "numpy", "scipy")
#: Runtime dependencies the GPU steps never import: matplotlib draws the report's figures, which
#: are rendered on a CPU machine from the stores the GPU steps write (tested: test_gpu_kit.py).
NOT_ON_GPU = ("matplotlib",)
#: Modules whose import proves that the kit's distributions are usable (zarr 3 and its codecs).
PROBE = ("zarr", "numcodecs", "donfig", "google_crc32c", "yaml", "jsonschema", "tqdm")
PYTHON = "3.12"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")  # torch's own wheels need glibc 2.28
FASHION = Path("/usr/share/datasets/fashion-mnist")


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------------------------- build
def _closure(names, environment: dict[str, str]) -> dict[str, str]:
    """{canonical name: installed version} of `names` and everything they require (with the
    extras asked for), markers evaluated for the target Python; from this environment's metadata."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    stack = [(n, frozenset()) for n in names]
    seen = set()
    while stack:
        name, extras = stack.pop()
        if (_canon(name), extras) in seen:
            continue
        seen.add((_canon(name), extras))
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # not installed here (JAX): neither needed nor excludable
        found[_canon(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({**environment, "extra": e}) for e in (extras or {""})):
                continue
            stack.append((req.name, frozenset(req.extras)))
    return found


def needed_distributions() -> dict[str, str]:
    """{name: version} of the wheels the kit carries: the closure of pyproject's runtime
    dependencies, less NOT_ON_GPU, less the closure of what the image has."""
    import tomllib

    from packaging.requirements import Requirement

    environment = {"python_version": PYTHON, "python_full_version": f"{PYTHON}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "os_name": "posix"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r).name for r in project["dependencies"]]
    skip = {_canon(n) for n in (*IMAGE, *NOT_ON_GPU)}
    image = _closure(IMAGE, environment)
    ours = _closure([n for n in wanted if _canon(n) not in skip], environment)
    return {name: version for name, version in sorted(ours.items()) if name not in image and name not in skip}


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(kit: Path, *, wheels: bool, per_class: int | None, dataset: str | None = None) -> dict:
    kit.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"python": PYTHON, "platforms": list(PLATFORMS)}
    if wheels:
        pins = needed_distributions()
        folder = kit / "wheels"
        shutil.rmtree(folder, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON,
                   *[f"--platform={p}" for p in PLATFORMS], "-d", str(folder), *[f"{n}=={v}" for n, v in pins.items()]]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            sys.exit(f"gpu_kit: pip download failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
        manifest["wheels"] = {p.name: p.stat().st_size for p in sorted(folder.glob("*.whl"))}
        manifest["pins"] = pins
    if dataset is None:
        dataset = "fashion-mnist" if FASHION.is_dir() else "digits"
    if dataset == "fashion-mnist":
        if not FASHION.is_dir():
            sys.exit(f"gpu_kit: {FASHION} is absent (apt-get install dataset-fashion-mnist)")
        args = ["--root", str(FASHION), "--no-download"]
        manifest["data_source"] = f"Debian's dataset-fashion-mnist ({FASHION})"
    elif dataset == "digits":
        args = []
        manifest["data_source"] = "scikit-learn's digits" + ("" if FASHION.is_dir() else f": {FASHION} is absent (apt-get install dataset-fashion-mnist for the real workload)")
    else:
        sys.exit(f"gpu_kit: --dataset {dataset!r}: fashion-mnist or digits (what needs no network)")
    if per_class:
        args += ["--train-per-class", str(per_class)]
    store = kit / "data.zarr"
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = subprocess.run([sys.executable, "-m", "deepcollapse", "data", "--dataset", dataset, *args, "--out", str(store), "--force"],
                            capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"gpu_kit: deepcollapse data failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    manifest.update(dataset=dataset, data_bytes=_size(store))
    (kit / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    manifest["total_bytes"] = _size(kit)
    (kit / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if manifest["total_bytes"] > LIMIT_BYTES:
        sys.exit(f"gpu_kit: {kit} holds {manifest['total_bytes'] / 2**20:.1f} MiB, more than one device call carries (64 MiB); use --per-class")
    return manifest


# ---------------------------------------------------------------------------------- install
def _importable(probe) -> list[str]:
    """The `probe` modules that do not import here (zarr also when it is not zarr 3)."""
    code = "import importlib,sys\nbad=[]\nfor m in sys.argv[1:]:\n try:\n  mod=importlib.import_module(m)\n  " \
           "assert m!='zarr' or int(mod.__version__.split('.')[0])>=3\n except Exception: bad.append(m)\nprint(' '.join(bad))"
    result = subprocess.run([sys.executable, "-c", code, *probe], capture_output=True, text=True)
    return result.stdout.split()


def install(kit: Path, site: Path, *, probe: tuple[str, ...] = PROBE) -> str:
    manifest = json.loads((kit / "manifest.json").read_text())
    missing = _importable(probe)
    if not missing:
        return "the kit's packages already import here: nothing installed"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != manifest["python"]:
        sys.exit(f"gpu_kit: {', '.join(missing)} missing and the kit's wheels are for Python {manifest['python']}, this is {here}")
    wheels = sorted((kit / "wheels").glob("*.whl"))
    if not wheels:
        sys.exit(f"gpu_kit: {', '.join(missing)} missing and {kit / 'wheels'} holds no wheel (built with --no-wheels?)")
    site.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    # what a wheel keeps under NAME.data/purelib or /platlib belongs on the path itself (none of
    # the kit's wheels has any today; scripts and headers are not needed)
    for scheme in site.glob("*.data/*lib"):
        for item in scheme.iterdir():
            shutil.move(str(item), str(site / item.name))
    still = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r}); import " + ", ".join(probe)],
                           capture_output=True, text=True)
    if still.returncode:
        sys.exit(f"gpu_kit: after unpacking {len(wheels)} wheels into {site}: {(still.stderr.strip().splitlines() or ['?'])[-1]}")
    return f"unpacked {len(wheels)} wheels into {site} (was missing: {', '.join(missing)})"


# ---------------------------------------------------------------------------------- steps
def _train_command(config: Path, run: Path) -> list[str]:
    return [sys.executable, "-m", "deepcollapse", "train", "--config", str(config), "--out", str(run), "--no-progress", "--restart-if-changed"]


def resume_check(config: Path, work: Path, out: Path) -> dict:
    """Train `config` straight, then again with a SIGTERM after the first kept checkpoint, resume,
    and compare the final states (bitwise, or how far apart)."""
    import torch

    sys.path.insert(0, str(ROOT / "src"))
    from deepcollapse.nets import checkpoint

    work.mkdir(parents=True, exist_ok=True)
    straight, run = work / "straight", work / "resumed"
    result: dict = {}
    t0 = time.perf_counter()
    subprocess.run(_train_command(config, straight), check=True)
    result["straight_s"] = time.perf_counter() - t0
    if not (run / "done.json").is_file():
        proc = subprocess.Popen(_train_command(config, run))
        first = None
        while proc.poll() is None:
            kept = checkpoint.kept_epochs(run)
            if any(e > 0 for e in kept):
                first = first or time.perf_counter()
                if time.perf_counter() - first > 0.5:  # half a second into the next epoch
                    proc.send_signal(signal.SIGTERM)
                    break
            time.sleep(0.01)
        result["interrupted_status"] = proc.wait()
        state = checkpoint.newest(run)
        result["stopped_at"] = [state[1]["epoch"], state[1]["step"]] if state else None
        subprocess.run(_train_command(config, run), check=True)
    final = [checkpoint.load(max(checkpoint.kept_epochs(r).items())[1]) for r in (straight, run)]
    differing, worst = [], 0.0
    for name, a in final[0]["model"].items():
        b = final[1]["model"][name]
        if not torch.equal(a, b):
            differing.append(name)
            if a.is_floating_point():
                worst = max(worst, float((a - b).abs().max()))
    result.update(tensors=len(final[0]["model"]), differing=len(differing), bitwise=not differing, max_abs_diff=worst,
                  first_differing=differing[:5])
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def smoke_summary(folder: Path, out: Path) -> dict:
    """Per variant: epoch seconds, final loss and accuracy, and the recompiles its log shows."""
    rows = {}
    for run in sorted(p for p in folder.iterdir() if p.is_dir()):
        log = folder / f"{run.name}.log"
        history_path = run / "history.json"
        history = json.loads(history_path.read_text()) if history_path.is_file() else []
        text = log.read_text(errors="replace") if log.is_file() else ""
        rows[run.name] = {
            "done": (run / "done.json").is_file(), "epoch_seconds": [round(h["seconds"], 3) for h in history],
            "final_loss": history[-1]["loss"] if history else None, "final_accuracy": history[-1]["accuracy"] if history else None,
            "recompiles": text.count("Recompiling function"), "recompile_reasons": sorted(set(re.findall(r"triggered by the following guard failure\(s\):\s*\n\s*- (.*)", text)))[:5],
        }
    out.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def compare_metrics(a: Path, b: Path, names: tuple[str, str], out: Path) -> dict:
    """The NC metrics of two runs (e.g. fp32 and TF32) at their last epoch, layer by layer."""
    import numpy as np
    import xarray as xr

    ds = [xr.open_zarr(p).isel(epoch=-1).load() for p in (a, b)]
    keys = [k for k in ds[0].data_vars if "layer" in ds[0][k].dims]
    table: dict = {}
    for layer in ds[0].layer.values.tolist():
        for key in keys:
            x, y = (float(d[key].sel(layer=layer)) for d in ds)
            if np.isnan(x) and np.isnan(y):
                continue
            table[f"{layer}/{key}"] = {names[0]: x, names[1]: y, "relative_difference": abs(x - y) / max(abs(x), 1e-30)}
    for key in ("loss", "accuracy", "test_loss", "test_accuracy"):
        if key in ds[0]:
            x, y = float(ds[0][key]), float(ds[1][key])
            table[key] = {names[0]: x, names[1]: y, "relative_difference": abs(x - y) / max(abs(x), 1e-30)}
    out.write_text(json.dumps(table, indent=1) + "\n")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="wheels + data store into KIT (on a CPU machine with an index)")
    p.add_argument("kit", type=Path)
    p.add_argument("--no-wheels", action="store_true", help="only the data store (the machine already has the packages)")
    p.add_argument("--per-class", type=int, default=None, help="balanced training subsample of the store (default: all)")
    p.add_argument("--dataset", default=None, help="fashion-mnist (default when Debian's package is installed) or digits")
    p = sub.add_parser("install", help="unpack KIT's wheels into SITE unless the packages already import")
    p.add_argument("kit", type=Path)
    p.add_argument("site", type=Path)
    p = sub.add_parser("resume-check", help="straight run vs SIGTERM + resume of one config")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("smoke-summary", help="summary of the smoke runs in a folder")
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("compare-metrics", help="two metrics stores at their last epoch")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--names", nargs=2, default=("a", "b"))
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        manifest = build(args.kit, wheels=not args.no_wheels, per_class=args.per_class, dataset=args.dataset)
        print(f"{args.kit}: {manifest['total_bytes'] / 2**20:.1f} MiB ({len(manifest.get('wheels', {}))} wheels, "
              f"{manifest['dataset']} store {manifest['data_bytes'] / 2**20:.1f} MiB from {manifest['data_source']})")
    elif args.command == "install":
        print(install(args.kit, args.site))
    elif args.command == "resume-check":
        print(json.dumps(resume_check(args.config, args.work, args.out)))
    elif args.command == "smoke-summary":
        print(json.dumps(smoke_summary(args.folder, args.out), indent=1))
    else:
        print(json.dumps(compare_metrics(args.a, args.b, tuple(args.names), args.out), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
