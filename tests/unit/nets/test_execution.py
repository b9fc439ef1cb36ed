"""Every execution option on CPU: fp32, bf16, channels_last, both, torch.compile.

Each variant trains a tiny run, is stopped by a real SIGTERM mid-epoch, resumes to bitwise the
weights and optimizer state of an uninterrupted run (what the README promises on CPU), and its
checkpoints give features and metrics.  The CUDA-only options are refused in one line on CPU.
Nothing here runs on a GPU: what the GPU kit checks there is in docs/operations.md#gpu.
"""

from __future__ import annotations

import json

import pytest
import torch

from deepcollapse import rundir
from deepcollapse.cli import main
from deepcollapse.config import from_mapping
from deepcollapse.errors import InputError
from deepcollapse.nets import checkpoint
from deepcollapse.nets.config import EXECUTION_FIELDS, TrainConfig
from deepcollapse.nets.runtime import Normalizer, check_cuda_index, math_mode, refuse_cpu_in_gpu_job
from deepcollapse.nets.trainer import Preempted, _GraphedStep, train
from tests.support.execution import TINY, VARIANTS, check_variant, sigterm_when_epoch_begins

CHEAP = ("fp32", "channels_last")  # the others (minutes each on a CPU): tests/system/test_execution_variants.py
assert set(CHEAP) < set(VARIANTS)


@pytest.mark.parametrize("variant", CHEAP)
def test_variant_trains_resumes_bitwise_and_gives_features_and_metrics(variant, tmp_path, monkeypatch):
    check_variant(variant, tmp_path, monkeypatch)


def test_precision_may_change_on_resume_and_each_segment_records_it(tmp_path, monkeypatch, capsys):
    """`precision` is an execution field (params.yaml says so): switching to bf16 for speed resumes
    the run (the workflow passes --restart-if-changed, which once deleted it and started over)."""
    run = tmp_path / "run"
    with monkeypatch.context() as mp:
        sigterm_when_epoch_begins(mp, 1)
        with pytest.raises(Preempted):
            train(from_mapping(TrainConfig, TINY), run, progress=False)
    first = checkpoint.load(checkpoint.epoch_path(run, 0))["model"]
    train(from_mapping(TrainConfig, {**TINY, "precision": "bf16"}), run, progress=False, restart_if_changed=True)
    assert "removing" not in capsys.readouterr().err
    assert all(torch.equal(a, b) for a, b in zip(first.values(), checkpoint.load(checkpoint.epoch_path(run, 0))["model"].values()))
    segments = json.loads(rundir.meta_path(run).read_text())["provenance"]["segments"]
    assert [(s["from_epoch"], s["from_step"], s["execution"]["precision"], s["math"]["autocast"]) for s in segments] == [
        (0, 0, "fp32", None), (1, 1, "bf16", "bfloat16"),
    ]
    assert "precision" in EXECUTION_FIELDS


def test_math_mode_makes_fp32_ieee_and_restores_torchs_flags():
    flags = lambda: (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.benchmark)  # noqa: E731
    before = flags()
    cuda = torch.device("cuda", 0)  # only named: the flags are process-wide and settable without a GPU
    with math_mode(cuda, "fp32", benchmark=True):
        assert flags() == ("ieee", "ieee", True)
    assert flags() == before
    with math_mode(cuda, "bf16"):
        assert flags()[:2] == ("ieee", "ieee")
    with math_mode(cuda, "tf32"):
        assert flags()[:2] == ("tf32", "tf32")
    assert flags() == before


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ({"cuda_graphs": True}, None, "key 'cuda_graphs' needs a CUDA device, but the run uses cpu"),
        ({"precision": "tf32"}, None, "key 'precision': tf32 (TensorFloat-32 tensor cores) needs a CUDA device, but the run uses cpu"),
        ({"device": "cuda"}, None, "device 'cuda' was requested but CUDA is not available"),
        ({"device": "cuda:1", "cuda_graphs": True}, None, "device 'cuda:1' was requested but CUDA is not available"),
        ({"device": "auto"}, {"CUDA_VISIBLE_DEVICES": "0"}, "device 'auto': this job was given GPU(s) CUDA_VISIBLE_DEVICES=0 but torch cannot use CUDA"),
    ],
    ids=["cuda_graphs", "tf32", "cuda", "cuda:1", "auto-in-a-gpu-job"],
)
def test_cuda_only_options_are_refused_in_one_line_on_cpu(tmp_path, capsys, monkeypatch, config, env, message):
    # a machine whose torch cannot use CUDA (this one; on a GPU machine: as after a driver mismatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY, **config}))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not checkpoint.kept_epochs(tmp_path / "run")


def test_auto_in_a_job_without_gpus_is_the_cpu():
    for visible in (None, "", "-1", "NoDevFiles"):
        refuse_cpu_in_gpu_job(torch.device("cpu"), visible)
    refuse_cpu_in_gpu_job(torch.device("cuda", 0), "0")
    with pytest.raises(InputError, match="CUDA_VISIBLE_DEVICES=0,1"):
        refuse_cpu_in_gpu_job(torch.device("cpu"), "0,1")


def test_a_cuda_index_beyond_the_machine_is_one_line():
    check_cuda_index("cuda:1", 1, 2)
    with pytest.raises(InputError, match=r"^device 'cuda:2': this machine has 2 CUDA device\(s\), cuda:0..cuda:1$"):
        check_cuda_index("cuda:2", 2, 2)


def test_cuda_graph_input_is_laid_out_like_the_eager_input():
    """Under channels_last a (B, 1, H, W) batch has NHWC strides; the graph's buffer must have the
    same (the NCHW buffer `.contiguous(memory_format=channels_last)` returned did not)."""
    normalize = Normalizer((0.5,), (0.25,)).on(torch.device("cpu"), channels_last=True)
    x = normalize(torch.zeros((4, 1, 8, 8), dtype=torch.uint8))
    old = torch.zeros(x.shape).contiguous(memory_format=torch.channels_last)
    assert old.stride() != x.stride()  # the layout the graph's input once had
    assert _GraphedStep.static_like(x).stride() == x.stride()
