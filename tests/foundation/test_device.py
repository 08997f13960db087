"""One --device parser for every command (seedkit.device): the names it takes, the errors it
gives, and that extract, train-seed and enhance all go through it."""

from __future__ import annotations

import pytest
import torch

from seedkit.device import default_device, device_name, parse_device
from seedkit.errors import SeedkitError


def test_names(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == "cpu"
    assert parse_device("auto") == torch.device("cpu")
    assert parse_device(None) == torch.device("cpu")
    assert device_name("auto") == "cpu"
    assert parse_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device() == "cuda"
    assert device_name("auto") == "cuda"
    assert parse_device("cuda").index is None  # the caller picks the index (rank, job)
    assert parse_device("cuda:3") == torch.device("cuda", 3)


@pytest.mark.parametrize("name", ["tpu", "tpu9", "tpu:0", "cuda:x", ""])
def test_unknown_names(name):
    with pytest.raises(SeedkitError) as ei:
        parse_device(name)
    text = str(ei.value)
    # the words each command's tests look for, and the fix
    assert f"unknown --device {name!r}" in text and "bad --device" in text
    assert "use auto, cpu, cuda or cuda:N" in text


def test_cuda_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:1"):
        with pytest.raises(SeedkitError, match="CUDA is not available.*use --device cpu"):
            parse_device(name)


def test_commands_share_the_parser(monkeypatch):
    """extract, train-seed and enhance report the same error for the same bad name."""
    from seedkit.bin import enhance as enhance_bin
    from seedkit.extract import device_for_job, resolve_device
    from seedkit.seed.distributed import setup_distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    texts = []
    for call in (lambda: resolve_device("tpu9"), lambda: setup_distributed("tpu9"),
                 lambda: enhance_bin.main(["--device", "tpu9", "m.pt", "scp:a.scp",
                                           "ark:b.ark"])):
        with pytest.raises(SeedkitError) as ei:
            call()
        texts.append(str(ei.value))
    assert len(set(texts)) == 1, texts
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup_distributed("auto").device == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert device_for_job("auto", 2) == "auto"  # no GPU to spread over
