"""Training of ResNet18 with checkpoints, resumption and pre-emption (`deepcollapse train`).

Run directory (`RUN_DIR`, its files named by `deepcollapse.rundir`)::

    run.json               resolved config, dataset hash and normalisation, provenance
    checkpoints/           epoch-NNNN.pt (kept) and resume.pt (rolling), see `checkpoint`
    history.json           per-epoch training loss/accuracy (train mode, running over the epoch), lr, seconds;
                           rewritten (atomically) after every epoch, so it shows a running job's progress
    done.json              written last: the run is complete

Semantics a scheduler can rely on:
* `train` on an existing RUN_DIR resumes from its newest checkpoint (a kept one or resume.pt,
  whichever is further); a completed run returns at once.  The config must be the same except for
  the execution fields (`config.EXECUTION_FIELDS`: device, compile, ...).
* SIGTERM (how SLURM pre-empts and cancels) or SIGUSR1 (``sbatch --signal=B:USR1@120``): the
  current step finishes, the state is saved to resume.pt (mid-epoch if need be) and `Preempted`
  is raised; the command exits with `PREEMPTED_EXIT_STATUS` (75, EX_TEMPFAIL of sysexits.h:
  "try again later").
* SIGKILL loses only the work since the last checkpoint (resume.pt every `save_every` epochs).
* A non-finite loss raises `TrainingDiverged` (an InputError: exit status 2) and saves nothing.

Determinism: the initial weights come from `seed`; epoch e visits the samples in the order
``numpy.random.default_rng([seed, e]).permutation(N)``; nothing else is random.  On CPU, a run
killed and resumed ends with bitwise the same weights as an uninterrupted one, with every
execution option (fp32, bf16, channels_last, compile; tests/unit/nets/test_execution.py).  On
CUDA this is not promised (cuDNN autotuning may choose other kernels in the resumed process).

Speed: the whole training split sits on the device as uint8 and is normalised per batch on
the device (no DataLoader, no per-sample Python); the loss is checked on the host only every
`_CHECK_EVERY` steps on CUDA (each check is a device sync).  Options: TF32 or bf16 autocast,
channels_last, torch.compile with static shapes, and `cuda_graphs` (the whole SGD step replayed
from a CUDA graph, to cut the per-kernel launch cost of small batches; whether that cost dominates
at batch 128 is what the GPU kit's benchmark measures: docs/operations.md#gpu).

Each process that trains a run is a segment: run.json's provenance lists them ("segments": where
each began, its execution fields, device and float32 math mode, and for one stopped by a signal,
"preempted": the signal and the epoch and step it saved), since a run may be resumed with other
execution fields (another precision, device, ...).  A segment killed outright (SIGKILL) has no
"preempted": the next one begins at the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..config import to_dict
from ..errors import EXIT_PREEMPTED, InputError
from ..progress import duration, log_line, wanted
from ..provenance import collect, device_description
from ..rundir import META, done_path, history_path, meta_path
from ..store import write_json
from . import checkpoint
from .config import EXECUTION_FIELDS, TrainConfig
from .runtime import Normalizer, build_model, load_data, loss_function, math_mode, resolve_device

#: Exit status of `deepcollapse train` after a pre-emption signal (SIGTERM/SIGUSR1): the state was
#: saved and rerunning the same command resumes.  75 = EX_TEMPFAIL in sysexits.h.
PREEMPTED_EXIT_STATUS = EXIT_PREEMPTED

PREEMPT_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

# Steps between host-side checks of the loss on CUDA (each check synchronises the device).
_CHECK_EVERY = 50


class Preempted(Exception):
    """Training stopped on a signal after saving a resume checkpoint."""

    def __init__(self, path: Path, epoch: int, step: int, signum: int):
        self.path, self.epoch, self.step, self.signum = path, epoch, step, signum
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: state saved to {path} (epoch {epoch}, step {step}); rerun to resume")


class TrainingDiverged(InputError):
    """The training loss became NaN or infinite."""


# ---------------------------------------------------------------------------------- signals
class _SignalFlag:
    """Records pre-emption signals while training runs; restores the old handlers afterwards."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_SignalFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in PREEMPT_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------- run dir
def _science(config_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config_dict.items() if k not in EXECUTION_FIELDS}


#: A field that a run.json written before it existed lacks has its default there (the default is
#: what that run did: e.g. `head_depth` 1, the plain classifier), so the run resumes.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}


def _why_not_resumable(run_dir: Path, resolved: dict[str, Any], data_info: dict[str, Any]) -> str | None:
    """Why the run in `run_dir` cannot be continued with this config and data (None: it can)."""
    path = meta_path(run_dir)
    try:
        meta = json.loads(path.read_text())
        old, old_hash = meta["config"], meta["data"]["content_hash"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{path} is unreadable"
    mine, theirs = _science(resolved), _science(old)
    theirs = {**{k: v for k, v in _DEFAULTS.items() if k in mine}, **theirs}
    changed = [key for key in sorted(set(mine) | set(theirs)) if mine.get(key) != theirs.get(key)]
    if changed:
        return "it was made with " + ", ".join(f"{key}={theirs.get(key)!r}, not {mine.get(key)!r}" for key in changed)
    if old_hash != data_info["content_hash"]:
        return "it was trained on data with another content hash"
    return None


def _prepare_run_dir(
    run_dir: Path, config: TrainConfig, data_info: dict[str, Any], device: torch.device, *, restart_if_changed: bool
) -> None:
    """Create run.json, or check that an existing run was made with the same science and data.

    A run made otherwise is refused, or with `restart_if_changed` deleted to start over: the
    workflow's choice, since its run directories must survive retries (checkpoints) yet follow
    parameter changes.  Execution-only fields (`EXECUTION_FIELDS`) never block a resume.
    """
    resolved = to_dict(config)
    if meta_path(run_dir).is_file() or checkpoint.directory(run_dir).is_dir():
        why = _why_not_resumable(run_dir, resolved, data_info)
        if why is None:
            return
        if not restart_if_changed:
            raise InputError(f"{run_dir}: cannot resume this run: {why}; use another --out, or --restart-if-changed")
        print(f"{run_dir}: removing the previous run ({why})", file=sys.stderr)
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {"config": resolved, "data": data_info, "provenance": collect(params=resolved, seed=config.seed, device=device)}
    write_json(meta, meta_path(run_dir))


def _record_segment(run_dir: Path, config: TrainConfig, device: torch.device, math: dict[str, Any], *, epoch: int, step: int) -> None:
    """Append this process's segment (where it starts, its execution fields, device, math mode)
    to run.json's provenance."""
    meta = json.loads(meta_path(run_dir).read_text())
    resolved = to_dict(config)
    segment = {
        "from_epoch": epoch, "from_step": step, "execution": {k: resolved[k] for k in sorted(EXECUTION_FIELDS)},
        "device": device_description(device), "math": math,
    }
    meta.setdefault("provenance", {}).setdefault("segments", []).append(segment)
    write_json(meta, meta_path(run_dir))


def _recorded(run_dir: Path, stop: Preempted) -> Preempted:
    """`stop`, after closing this process's segment in run.json with how it stopped: the signal, and
    the epoch and step of the checkpoint it saved (where the next segment begins).  Called while the
    signal handlers still only set a flag; the state is saved already, so a record that cannot be
    written is a warning, never another exit than the pre-emption's."""
    try:
        meta = json.loads(meta_path(run_dir).read_text())
        meta["provenance"]["segments"][-1]["preempted"] = {
            "signal": signal.Signals(stop.signum).name, "epoch": stop.epoch, "step": stop.step, "checkpoint": stop.path.name,
        }  # fmt: skip
        write_json(meta, meta_path(run_dir))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        log_line(f"warning: {meta_path(run_dir)}: the pre-emption could not be recorded ({exc})")
    return stop


def check_execution(config: TrainConfig, device: torch.device) -> None:
    """The execution options that need CUDA, refused in one line on another device."""
    if device.type != "cuda":
        if config.cuda_graphs:
            raise InputError(f"key 'cuda_graphs' needs a CUDA device, but the run uses {device}")
        if config.precision == "tf32":
            raise InputError(f"key 'precision': tf32 (TensorFloat-32 tensor cores) needs a CUDA device, but the run uses {device}; use fp32")


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """run.json of a run directory (config, data, provenance); InputError if absent."""
    path = meta_path(run_dir)
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{run_dir}: not a training run directory (no {META})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({exc})") from None
    shape_ok = isinstance(meta, dict) and isinstance(meta.get("config"), dict) and isinstance(meta.get("data"), dict)
    if not shape_ok or not {"content_hash", "normalization"} <= set(meta["data"]):
        raise InputError(f"{path}: not a {META} of `deepcollapse train` (expected 'config' and 'data' mappings)")
    return meta


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch `epoch` (0-based) visits the n training samples."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_starts(n: int, batch_size: int) -> list[int]:
    """Start rows of the batches of an epoch; a final batch of one sample is dropped
    (BatchNorm cannot normalise a single sample in training mode)."""
    starts = list(range(0, n, batch_size))
    if n - starts[-1] == 1 and len(starts) > 1:
        starts.pop()
    return starts


# ---------------------------------------------------------------------------------- steps
def _eager_step(model_fwd: Callable, loss_fn: Callable, optimizer: torch.optim.Optimizer, *, autocast: bool, device: torch.device):
    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        optimizer.zero_grad(set_to_none=True)
        # no cast cache: each weight is used once per forward (nothing to reuse), and PyTorch
        # requires the cache off when the step is captured in a CUDA graph (_GraphedStep)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast, cache_enabled=False):
            logits = model_fwd(x)
        loss = loss_fn(logits.float(), y)
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.detach().argmax(dim=1) == y).sum()

    return step


class _GraphedStep:
    """The whole SGD step (forward, backward, optimizer) captured once in a CUDA graph and replayed.

    Follows PyTorch's "whole-network capture" recipe: a few eager warm-up steps on a side stream
    (they are ordinary training steps on real batches), then capture.  The learning rate is a
    constant inside the graph, so the graph is recaptured whenever the scheduler changes it.
    Batches of another size (the last of an epoch) run eagerly.
    """

    WARMUP = 3

    def __init__(self, eager: Callable, optimizer: torch.optim.Optimizer, *, batch_size: int, device: torch.device):
        self.eager, self.optimizer, self.device, self.batch_size = eager, optimizer, device, batch_size
        self.static_x: torch.Tensor | None = None
        self.static_y: torch.Tensor | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_lr: float | None = None
        self.warm = 0

    @staticmethod
    def static_like(x: torch.Tensor) -> torch.Tensor:
        """The graph's input buffer, laid out exactly like the eager input `x` (same strides:
        under channels_last a (B, 1, H, W) batch has NHWC strides that `.contiguous(memory_format=
        channels_last)` of an NCHW buffer would not give, and convolutions choose kernels by
        strides, so replay and eager steps would run different kernels)."""
        return torch.empty_like(x, memory_format=torch.preserve_format)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.static_x is None and x.shape[0] == self.batch_size:
            self.static_x, self.static_y = self.static_like(x), torch.empty_like(y)
        if self.static_x is None or x.shape != self.static_x.shape or x.stride() != self.static_x.stride():
            return self.eager(x, y)
        if self.warm < self.WARMUP:
            side = torch.cuda.Stream(device=self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                out = self.eager(x, y)
            torch.cuda.current_stream(self.device).wait_stream(side)
            self.warm += 1
            return out
        lr = self.optimizer.param_groups[0]["lr"]
        if self.graph is None or lr != self.graph_lr:
            self.graph = None
            torch.cuda.synchronize(self.device)
            graph = torch.cuda.CUDAGraph()
            self.optimizer.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                self.static_loss, self.static_correct = self.eager(self.static_x, self.static_y)
            self.graph, self.graph_lr = graph, lr
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()
        return self.static_loss.clone(), self.static_correct.clone()


# ---------------------------------------------------------------------------------- training
def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if device.type == "cuda":
        # the run's device only: a state of every visible GPU would not restore in a process
        # that sees fewer (a run pre-empted on a 2-GPU node, resumed on a 1-GPU one)
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    saved = state.get("cuda")
    if device.type == "cuda" and saved is not None:
        if isinstance(saved, (list, tuple)):  # written before issue 24: every device's state
            saved = saved[device.index] if device.index < len(saved) else None
        if saved is not None:
            torch.cuda.set_rng_state(saved, device)


def _check_finite(loss_sum: torch.Tensor, *, epoch: int, step: int, lr: float) -> None:
    value = float(loss_sum)
    if not np.isfinite(value):
        raise TrainingDiverged(
            f"training diverged: the loss became {value} in epoch {epoch + 1} by step {step} (lr {lr:g}); "
            "lower 'lr' (or 'mse_scale') and start a new run"
        )


def _epoch_line(name: str, record: dict[str, Any], epochs: int, images_per_s: float, *, eta: float) -> str:
    """The log line of a finished epoch (where no progress bar is shown: a SLURM or Snakemake log)."""
    return (
        f"train {name}: epoch {record['epoch']}/{epochs} loss {record['loss']:.6g} accuracy {record['accuracy']:.4f} "
        f"lr {record['lr']:.4g} {record['seconds']:.1f} s {images_per_s:.0f} images/s ETA {duration(eta)}"
    )


def train(
    config: TrainConfig, run_dir: str | Path, *, progress: bool | None = None, restart_if_changed: bool = False
) -> dict[str, Any]:
    """Train (or resume) the run in `run_dir`; returns the summary also written to done.json.

    Raises `Preempted` after a pre-emption signal (state saved) and `TrainingDiverged` on a
    non-finite loss.  `progress`: tqdm bar (None: only on a terminal); without a bar, one line
    per epoch on stderr (`_epoch_line`).
    """
    run_dir = Path(run_dir)
    device = resolve_device(config.device, threads=config.threads)
    check_execution(config, device)
    # cuDNN autotuning on CUDA; fp32 is IEEE float32 (torch's default convolutions are TF32)
    with math_mode(device, config.precision, benchmark=device.type == "cuda") as math:
        return _train(config, run_dir, device, math, progress=progress, restart_if_changed=restart_if_changed)


def _train(
    config: TrainConfig, run_dir: Path, device: torch.device, math: dict[str, Any], *, progress: bool | None, restart_if_changed: bool
) -> dict[str, Any]:
    from tqdm.auto import tqdm

    data = load_data(config)
    images, labels = data.images["train"], data.labels["train"]
    normalizer = Normalizer.fit(images)
    data_info = {
        "dataset": data.name, "content_hash": data.content_hash, "num_classes": data.num_classes,
        "image_shape": list(images.shape[1:]), "train_samples": int(len(labels)), "test_samples": int(len(data.labels["test"])),
        "normalization": {"mean": list(normalizer.mean), "std": list(normalizer.std)},
    }
    _prepare_run_dir(run_dir, config, data_info, device, restart_if_changed=restart_if_changed)
    done = done_path(run_dir)
    if done.is_file():
        return json.loads(done.read_text())

    model = build_model(config, num_classes=data.num_classes, in_channels=images.shape[1])
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory_format)
    cuda = device.type == "cuda"
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
        **({"fused": True} if cuda and not config.cuda_graphs else {}),
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=config.lr_gamma)

    history: list[dict[str, Any]] = []
    start_epoch, start_step, partial = 0, 0, None
    checkpoint.remove_partial_writes(run_dir)
    # Python's and numpy's global generators draw nothing in training (epoch_order has its own), but
    # every checkpoint saves their states for a resume: seeded here, so that a checkpoint is a
    # function of the config and not of the process's entropy (a resumed run restores them below).
    random.seed(config.seed)
    np.random.seed(config.seed)
    found = checkpoint.newest(run_dir)
    if found is not None:
        path, state = found
        checkpoint.restore(model, state, path)
        # load_state_dict also restores the saved run's implementation flags: a run pre-empted on
        # CUDA (fused=True) and resumed on CPU, or resumed with cuda_graphs, must use this run's.
        implementation = {k: optimizer.param_groups[0][k] for k in ("fused", "foreach")}
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:
            group.update(implementation)
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"], device)
        start_epoch, start_step = int(state["epoch"]), int(state["step"])
        partial, history = state.get("partial"), list(state.get("history", []))
    _record_segment(run_dir, config, device, math, epoch=start_epoch, step=start_step)

    resolved = to_dict(config)

    def snapshot(epoch: int, step: int, partial_sums: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "epoch": epoch, "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": _rng_state(device), "partial": partial_sums,
            "history": history, "config": resolved,
        }

    if start_epoch == 0 and start_step == 0 and 0 in config.checkpoints and found is None:
        checkpoint.save(checkpoint.epoch_path(run_dir, 0), snapshot(0, 0, None))

    X = torch.from_numpy(images).to(device)
    Y = torch.from_numpy(labels.astype(np.int64)).to(device)
    normalize = normalizer.on(device, channels_last=config.channels_last)
    loss_fn = loss_function(config, data.num_classes)
    # static shapes: the last, smaller batch of an epoch gets a graph of its own.  By default
    # torch.compile would recompile for it with a symbolic batch size and run every later full
    # batch through that graph: other kernels than a process resumed mid-epoch (which compiles
    # the full batch first) runs, so bitwise resumption would hold only by luck, and on a GPU
    # symbolic-shape kernels are slower.
    model_fwd = model if config.compile == "none" else torch.compile(model, mode=config.compile, dynamic=False)
    step_fn = _eager_step(model_fwd, loss_fn, optimizer, autocast=config.precision == "bf16", device=device)
    if config.cuda_graphs:
        step_fn = _GraphedStep(step_fn, optimizer, batch_size=config.batch_size, device=device)
    check_every = _CHECK_EVERY if cuda else 1

    n = len(labels)
    starts = batch_starts(n, config.batch_size)
    total = config.epochs * len(starts)
    disable = None if progress is None else not progress  # tqdm: None = only on a terminal
    bar = tqdm(total=total, initial=start_epoch * len(starts) + start_step, disable=disable,
               unit="batch", dynamic_ncols=True, desc=f"train {data.name}")
    log_epochs = not wanted(progress)
    loop_start, epochs_here = time.perf_counter(), 0
    try:
        with _SignalFlag() as flag, bar:
            for epoch in range(start_epoch, config.epochs):
                t0 = time.perf_counter()
                model.train()
                order = torch.from_numpy(epoch_order(config.seed, epoch, n)).to(device)
                first = start_step if epoch == start_epoch else 0
                loss_sum = torch.zeros((), dtype=torch.float64, device=device)
                correct = torch.zeros((), dtype=torch.int64, device=device)
                seen = 0
                if first and partial:
                    loss_sum += partial["loss_sum"]
                    correct += partial["correct"]
                    seen = partial["seen"]
                seen_before = seen
                lr = optimizer.param_groups[0]["lr"]
                for step in range(first, len(starts)):
                    idx = order[starts[step]: starts[step] + config.batch_size]
                    loss, hits = step_fn(normalize(X[idx]), Y[idx])
                    loss_sum += loss.double() * len(idx)
                    correct += hits
                    seen += len(idx)
                    bar.update(1)
                    if (step + 1) % check_every == 0:
                        _check_finite(loss_sum, epoch=epoch, step=step + 1, lr=lr)
                    if flag.signum is not None and step + 1 < len(starts):
                        _check_finite(loss_sum, epoch=epoch, step=step + 1, lr=lr)
                        sums = {"loss_sum": float(loss_sum), "correct": int(correct), "seen": seen}
                        path = checkpoint.save(checkpoint.directory(run_dir) / checkpoint.RESUME_NAME, snapshot(epoch, step + 1, sums))
                        raise _recorded(run_dir, Preempted(path, epoch, step + 1, flag.signum))
                _check_finite(loss_sum, epoch=epoch, step=len(starts), lr=lr)
                scheduler.step()
                record = {
                    "epoch": epoch + 1, "lr": lr, "loss": float(loss_sum) / seen, "accuracy": int(correct) / seen,
                    "seconds": time.perf_counter() - t0,
                }
                history.append(record)
                bar.set_postfix(epoch=epoch + 1, loss=f"{record['loss']:.4g}", acc=f"{record['accuracy']:.3f}")
                epochs_here += 1
                if log_epochs:
                    per_epoch = (time.perf_counter() - loop_start) / epochs_here
                    log_line(_epoch_line(run_dir.name, record, config.epochs, (seen - seen_before) / record["seconds"],
                                         eta=per_epoch * (config.epochs - epoch - 1)))
                write_json(history, history_path(run_dir))  # each epoch: the file shows a running job's progress
                done_epochs = epoch + 1
                # read once: a signal that lands after this line is handled after the next step,
                # never by stopping without the save decided here
                signum = flag.signum
                saved = None
                if done_epochs in config.checkpoints:
                    saved = checkpoint.save(checkpoint.epoch_path(run_dir, done_epochs), snapshot(done_epochs, 0, None))
                    checkpoint.drop_resume(run_dir)
                elif signum is not None or (config.save_every and done_epochs % config.save_every == 0):
                    saved = checkpoint.save(checkpoint.directory(run_dir) / checkpoint.RESUME_NAME, snapshot(done_epochs, 0, None))
                if signum is not None and done_epochs < config.epochs:
                    raise _recorded(run_dir, Preempted(saved, done_epochs, 0, signum))
    finally:
        if history:
            write_json(history, history_path(run_dir))
    summary = {
        "epochs": config.epochs, "final_loss": history[-1]["loss"] if history else None,
        "final_accuracy": history[-1]["accuracy"] if history else None,
        "checkpoints": [e for e in config.checkpoints], "device": str(device),
    }
    checkpoint.drop_resume(run_dir)
    write_json(summary, done)
    return summary
