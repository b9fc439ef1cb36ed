"""Benchmark: ResNet18 training throughput at the paper's batch size (128), our trainer vs a plain
torchvision DataLoader fp32 loop, in the same process on the same device; then feature extraction
and metrics time per checkpoint.

    PYTHONPATH=src python tests/benchmarks/bench_nets.py --data STORE          # GPU if present, else CPU demo sizes
    PYTHONPATH=src python tests/benchmarks/bench_nets.py --data STORE --device cpu --per-class 200 --width 0.125

Data: the store given (`deepcollapse data --dataset fashion-mnist ... --out STORE`; the GPU kit's
data.zarr), and nothing else: a missing or unreadable store is one line and exit status 2 (it once
fell back to the 8x8 digits silently, so its figure measured another workload).  Grayscale stores
only (the baseline's per-sample transform is the MNIST-style one).

The baseline is what a typical training script does: a torchvision dataset with ToTensor +
Normalize per sample, a DataLoader (shuffle, pinned memory) with `--workers` worker processes
(default: the usable cores, at most 8; several counts separated by commas: the fastest is the
baseline), host-to-device copies per batch.  It runs under the same float32 math mode as "ours,
fp32" (IEEE float32, cuDNN autotuning on CUDA): torch's default would give it TF32 convolutions.
Goal on a GPU: our trainer >= 3x the baseline's images/s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deepcollapse import rundir
from deepcollapse.config import from_mapping
from deepcollapse.nets.config import TrainConfig

def refuse(message: str) -> None:
    """Bad input: one line on stderr, exit status 2 (the package's convention)."""
    print(f"bench_nets: {message}", file=sys.stderr)
    raise SystemExit(2)


def default_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0))))


def baseline_images_per_second(images: np.ndarray, labels: np.ndarray, *, width: float, device: torch.device, epochs: int, workers: int) -> float:
    """A plain loop: torchvision transforms per sample through a DataLoader, fp32, eager SGD."""
    import torchvision.transforms as T
    from PIL import Image

    from deepcollapse.nets.resnet import ResNet18
    from deepcollapse.nets.runtime import math_mode

    mean, std = float(images.mean() / 255), float(images.std() / 255)

    class PerSample(torch.utils.data.Dataset):  # what torchvision's MNIST-style datasets do per item
        transform = T.Compose([T.ToTensor(), T.Normalize((mean,), (std,))])

        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int):
            return self.transform(Image.fromarray(images[i, 0], mode="L")), int(labels[i])

    loader = torch.utils.data.DataLoader(PerSample(), batch_size=128, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    torch.manual_seed(0)
    model = ResNet18(num_classes=10, in_channels=1, width=width, bias=False).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    rates = []
    with math_mode(device, "fp32", benchmark=device.type == "cuda"):
        rates = _baseline_epochs(loader, model, opt, device, epochs)
    return rates[-1]  # the last epoch: workers started, cudnn autotuned


def _baseline_epochs(loader, model, opt, device: torch.device, epochs: int) -> list[float]:
    rates = []
    for _ in range(epochs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0, seen = time.perf_counter(), 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = torch.mean((out - torch.nn.functional.one_hot(y, 10).float()) ** 2)
            loss.backward()
            opt.step()
            seen += len(y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(seen / (time.perf_counter() - t0))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a store of `deepcollapse data` (grayscale: mnist, fashion-mnist, digits)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--per-class", type=int, default=None, help="balanced subsample (default: 200 on CPU, all on GPU)")
    parser.add_argument("--width", type=float, default=None, help="width multiplier (default: 0.125 on CPU, 1 on GPU)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per measurement (the last one is reported)")
    parser.add_argument("--workers", default=str(default_workers()), help="DataLoader workers of the baseline; a comma list: the fastest counts (default: usable cores, at most 8)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    per_class = args.per_class if args.per_class is not None else (None if gpu else 200)
    width = args.width if args.width is not None else (1.0 if gpu else 0.125)
    if args.threads:
        torch.set_num_threads(args.threads)

    from deepcollapse import data as datasets
    from deepcollapse.errors import InputError
    from deepcollapse.nets import extract_features, layer_metrics, train

    store = Path(args.data).resolve()
    try:
        full = datasets.load(store)
        workers = [int(w) for w in args.workers.split(",")]
    except InputError as exc:
        refuse(str(exc))
    except ValueError:
        refuse(f"--workers {args.workers!r}: integers separated by commas")
    name = full.name
    if full.images["train"].shape[1] != 1:
        refuse(f"{store} holds {name} with {full.images['train'].shape[1]} channels; the baseline's transform is for grayscale images")
    with tempfile.TemporaryDirectory(prefix="bench-nets-") as tmp:
        tmp = Path(tmp)
        sub = full.subsample(train_per_class=per_class, test_per_class=None, seed=0) if per_class else full
        images, labels = sub.images["train"], sub.labels["train"]
        n = len(labels)
        print(f"# {name} ({store}): {n} training images {images.shape[1:]}, ResNet18 width {width}, batch 128, device {device}"
              + (f" ({torch.cuda.get_device_name(device)})" if gpu else f" ({torch.get_num_threads()} threads)")
              + f", {len(os.sched_getaffinity(0))} usable cores")
        baselines = []
        for count in workers:
            rate = baseline_images_per_second(images, labels, width=width, device=device, epochs=args.epochs, workers=count)
            print(f"# baseline with {count} DataLoader workers: {rate:.0f} images/s")
            baselines.append((f"torchvision DataLoader, fp32 (baseline, {count} workers)", rate, None))
        rows = [max(baselines, key=lambda row: row[1])]  # the fairest baseline is its fastest

        variants = {"ours, fp32": {}}
        if gpu:
            variants.update({
                "ours, tf32": {"precision": "tf32"},
                "ours, bf16 + channels_last": {"precision": "bf16", "channels_last": True},
                "ours, torch.compile default": {"compile": "default"},
                "ours, CUDA graphs (fp32)": {"cuda_graphs": True},
                "ours, CUDA graphs + bf16 + channels_last": {"cuda_graphs": True, "precision": "bf16", "channels_last": True},
            })
        run_dirs = {}
        for label, extra in variants.items():
            cfg = from_mapping(TrainConfig, {
                "dataset": name, "data": str(store), "train_per_class": per_class, "width": width,
                "epochs": args.epochs, "checkpoints": [0, args.epochs], "device": str(device), "save_every": 0,
                "threads": args.threads, **extra,
            })
            run_dirs[label] = tmp / f"run{len(run_dirs)}"
            try:
                train(cfg, run_dirs[label], progress=False)
            except Exception as exc:  # a variant that fails here (e.g. compile without a toolchain) is reported, not fatal
                rows.append((label, float("nan"), f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"))
                continue
            history = json.loads(rundir.history_path(run_dirs[label]).read_text())
            seconds = history[-1]["seconds"]
            rows.append((label, n / seconds, seconds))

        base = rows[0][1]
        print(f"\n| {'training loop':52} | images/s | vs baseline | epoch time (s) |")
        print(f"|{'-' * 54}|---------:|------------:|---------------:|")
        for label, rate, note in rows:
            epoch = f"{n / rate:.2f}" if note is None or isinstance(note, float) else note
            print(f"| {label:52} | {rate:8.0f} | {rate / base:10.2f}x | {epoch:>14} |")

        run = run_dirs["ours, fp32"]
        t0 = time.perf_counter()
        extract_features(run, tmp / "features.zarr", progress=False)
        t_features = time.perf_counter() - t0
        t0 = time.perf_counter()
        layer_metrics(tmp / "features.zarr", tmp / "metrics.zarr", progress=False)
        t_metrics = time.perf_counter() - t0
        checkpoints = 2
        print(f"\nper checkpoint ({n} training images, 5 layers): feature extraction {t_features / checkpoints:.2f} s, "
              f"metrics {t_metrics / checkpoints:.2f} s (both including their share of start-up)")


if __name__ == "__main__":
    main()
