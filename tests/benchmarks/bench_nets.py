"""Benchmark: ResNet18 training throughput at the paper's batch size (128), our trainer vs a plain
torchvision DataLoader fp32 loop, in the same process on the same device; then feature extraction
and metrics time per checkpoint.

    PYTHONPATH=src python tests/benchmarks/bench_nets.py            # GPU if present, else CPU demo sizes
    PYTHONPATH=src python tests/benchmarks/bench_nets.py --device cpu --per-class 200 --width 0.125

Data: the real Fashion-MNIST from Debian's package when installed (/usr/share/datasets/fashion-mnist),
else scikit-learn's digits.  The baseline is what a typical training script does: a torchvision
dataset with ToTensor + Normalize per sample, a DataLoader (shuffle, workers, pinned memory),
host-to-device copies per batch, fp32.  Goal on a GPU: our trainer >= 3x the baseline's images/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deepcollapse import rundir
from deepcollapse.config import from_mapping
from deepcollapse.nets.config import TrainConfig

FASHION = Path("/usr/share/datasets/fashion-mnist")


def baseline_images_per_second(images: np.ndarray, labels: np.ndarray, *, width: float, device: torch.device, epochs: int, workers: int) -> float:
    """A plain loop: torchvision transforms per sample through a DataLoader, fp32, eager SGD."""
    import torchvision.transforms as T
    from PIL import Image

    from deepcollapse.nets.resnet import ResNet18

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
    return rates[-1]  # the last epoch: workers started, cudnn autotuned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--per-class", type=int, default=None, help="balanced subsample (default: 200 on CPU, all on GPU)")
    parser.add_argument("--width", type=float, default=None, help="width multiplier (default: 0.125 on CPU, 1 on GPU)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per measurement (the last one is reported)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    per_class = args.per_class if args.per_class is not None else (None if gpu else 200)
    width = args.width if args.width is not None else (1.0 if gpu else 0.125)
    if args.threads:
        torch.set_num_threads(args.threads)

    from deepcollapse import data as datasets
    from deepcollapse.nets import extract_features, layer_metrics, train

    name = "fashion-mnist" if FASHION.is_dir() else "digits"
    with tempfile.TemporaryDirectory(prefix="bench-nets-") as tmp:
        tmp = Path(tmp)
        full = datasets.convert(name, root=FASHION if name == "fashion-mnist" else None, download=False)
        datasets.write(full, tmp / "data.zarr")
        sub = full.subsample(train_per_class=per_class, test_per_class=None, seed=0) if per_class else full
        images, labels = sub.images["train"], sub.labels["train"]
        n = len(labels)
        print(f"# {name}: {n} training images {images.shape[1:]}, ResNet18 width {width}, batch 128, device {device}"
              + (f" ({torch.cuda.get_device_name(device)})" if gpu else f" ({torch.get_num_threads()} threads)"))
        rows = [("torchvision DataLoader, fp32 (baseline)", baseline_images_per_second(images, labels, width=width, device=device, epochs=args.epochs, workers=args.workers), None)]

        variants = {"ours, fp32": {}}
        if gpu:
            variants.update({
                "ours, bf16 + channels_last": {"precision": "bf16", "channels_last": True},
                "ours, CUDA graphs (fp32)": {"cuda_graphs": True},
                "ours, CUDA graphs + bf16 + channels_last": {"cuda_graphs": True, "precision": "bf16", "channels_last": True},
                "ours, torch.compile reduce-overhead": {"compile": "reduce-overhead"},
            })
        run_dirs = {}
        for label, extra in variants.items():
            cfg = from_mapping(TrainConfig, {
                "dataset": name, "data": str(tmp / "data.zarr"), "train_per_class": per_class, "width": width,
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
        print(f"\n| {'training loop':44} | images/s | vs baseline | epoch time (s) |")
        print(f"|{'-' * 46}|---------:|------------:|---------------:|")
        for label, rate, note in rows:
            epoch = f"{n / rate:.2f}" if note is None or isinstance(note, float) else note
            print(f"| {label:44} | {rate:8.0f} | {rate / base:10.2f}x | {epoch:>14} |")

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
