"""benchmarks/bench_train.py cannot rot: its reference sampler (the numpy draw seedkit trained
with before DeviceNoise) agrees with DeviceNoise, and a tiny CPU run prints every report line."""

from __future__ import annotations

import re
import sys

import pytest
import torch
from conftest import REPO

from seedkit.seed.sampling import DeviceNoise, pair_noise

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_train  # noqa: E402


@pytest.mark.parametrize("dim", [1, 16, 33, 256, 512])
def test_device_noise_is_the_numpy_definition(dim):
    """t bit for bit; eps within float32 rounding of log/sqrt/sin/cos (numpy's vs torch's)."""
    pos = torch.cat([torch.arange(0, 1200), torch.tensor([2**40 + 3, 2**62 - 1])])
    t_ref, eps_ref = bench_train.numpy_pair_noise(11, 5, pos, dim, 1000)
    draw = DeviceNoise(dim, 1000, torch.device("cpu"))
    t, eps = draw(11, 5, pos)
    assert torch.equal(t, t_ref) and eps.shape == eps_ref.shape and eps.dtype == torch.float32
    diff = (eps - eps_ref).abs()
    assert float(diff.max()) < 2e-6 and float(diff.mean()) < 1e-7
    # the buffers are reused: a second call with other positions, then the first again
    t2, _ = draw(11, 5, pos.flip(0))
    assert torch.equal(t2, t_ref.flip(0))
    t3, eps3 = draw(11, 5, pos)
    assert torch.equal(t3, t_ref) and torch.equal(eps3, pair_noise(11, 5, pos, dim, 1000)[1])


def test_tiny_cpu_run_prints_the_report(capsys):
    n = torch.get_num_threads()
    try:
        assert bench_train.main(["--device", "cpu", "--threads", "1", "--dims", "8,16",
                                 "--batch", "40", "--steps", "2", "--warmup", "1",
                                 "--repeats", "1", "--pairs", "100"]) == 0
    finally:
        torch.set_num_threads(n)
    out = capsys.readouterr().out.splitlines()
    number = r"[0-9][0-9,]*"
    for dim in (8, 16):
        train = [ln for ln in out if ln.startswith(f"D={dim}, 40 pairs/step: train")]
        assert len(train) == 1 and re.fullmatch(
            rf"D={dim}, 40 pairs/step: train steady-state: {number} pairs/s \(data \d+%, net "
            rf"\d+%\); bare network step {number} pairs/s \(trainer / bare [0-9.]+\); old-style "
            rf"step {number} pairs/s \(trainer / old [0-9.]+\)", train[0])
        sampler = [ln for ln in out if ln.startswith(f"D={dim}, 40 pairs/step: sampler")]
        assert len(sampler) == 1 and re.fullmatch(
            rf"D={dim}, 40 pairs/step: sampler [0-9.]+ ms/step \(old numpy path [0-9.]+ "
            r"ms/step, [0-9.]+x\)", sampler[0])


def test_absent_device_is_one_error_line(capsys):
    assert bench_train.main(["--device", "cuda:99"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ERROR (bench_train.py): --device cuda:99: this")
