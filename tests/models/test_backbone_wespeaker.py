"""WeSpeaker ResNet34 (``model: WeSpeakerResNet34``) against WeSpeaker's own code, and the
checkpoint layouts and mismatches of the deployed-model backbones.

tests/data/wespeaker/ holds the output of WeSpeaker's ResNet34 + fbank + CMN (its README says how
it was made) on weights from the generator's :func:`deterministic_weights` (imported from
tests/data/wespeaker/make_fixture.py, which imports nothing of WeSpeaker's at the top). Both
published layouts are rebuilt here from those weights: WeSpeaker's ``avg_model.pt`` (bare state
dict + the ``projection.weight`` training head) and pyannote's ``pytorch_model.bin`` (Lightning
dict, ``resnet.`` keys, pickled ``pyannote.audio`` classes, made with stand-in modules that exist
only while the file is written).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch_threads import one_thread  # noqa: F401 (autouse)

from seedkit.bin import extract as extract_bin
from seedkit.embio import read_embeddings
from seedkit.errors import SeedkitError, run_main
from seedkit.models.checkpoint import load_backbone_checkpoint
from seedkit.models.config import build_from_config, load_backbone_config
from seedkit.models.speechbrain_ecapa import SpeechBrainECAPA
from seedkit.models.wespeaker_resnet import WeSpeakerResNet34

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests/data/wespeaker"
CONF_DIR = REPO / "egs/voxceleb/seed/conf"
WESPEAKER_CONF = CONF_DIR / "wespeaker_resnet34.yaml"
SPEECHBRAIN_CONF = CONF_DIR / "speechbrain_ecapa.yaml"

sys.path.insert(0, str(FIXTURE))
from make_fixture import deterministic_weights  # noqa: E402


@pytest.fixture(scope="module")
def fixture() -> dict:
    return json.loads((FIXTURE / "expected.json").read_text())


@pytest.fixture(scope="module")
def weights(fixture) -> dict[str, torch.Tensor]:
    return deterministic_weights({k: tuple(v) for k, v in fixture["state_dict_shapes"].items()},
                                 fixture["seed"])


def avg_model(weights: dict, path: Path) -> Path:
    """WeSpeaker's avg_model.pt: the bare state dict, training head included."""
    sd = dict(weights)
    sd["projection.weight"] = torch.randn(1211, 256)
    torch.save(sd, path)
    return path


def pyannote_model(weights: dict, path: Path, monkeypatch) -> Path:
    """pyannote's pytorch_model.bin layout, with pickled ``pyannote.audio.core.task`` classes."""
    names = ["pyannote", "pyannote.audio", "pyannote.audio.core", "pyannote.audio.core.task"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    task = sys.modules["pyannote.audio.core.task"]

    class Problem(enum.Enum):
        REPRESENTATION = 4

    class Resolution(enum.Enum):
        CHUNK = 2

    @dataclasses.dataclass
    class Specifications:
        problem: Problem
        resolution: Resolution
        duration: float
        classes: list

    for cls in (Problem, Resolution, Specifications):
        cls.__module__, cls.__qualname__ = task.__name__, cls.__name__
        setattr(task, cls.__name__, cls)
    ckpt = {"state_dict": {f"resnet.{k}": v for k, v in weights.items()},
            "pyannote.audio": {"versions": {"pyannote.audio": "3.1.0"},
                               "architecture": {"module": "pyannote.audio.models.embedding."
                                                "wespeaker", "class": "WeSpeakerResNet34"},
                               "specifications": Specifications(
                                   Problem.REPRESENTATION, Resolution.CHUNK, 5.0, ["spk"])},
            "pytorch-lightning_version": "2.1.0"}
    torch.save(ckpt, path)
    for name in names:  # gone again: loading must not need them
        monkeypatch.delitem(sys.modules, name)
    return path


def published_model(layout: str, weights: dict, path: Path, monkeypatch) -> Path:
    """``weights`` in one of the two published layouts (named by its file name)."""
    if layout == "avg_model.pt":
        return avg_model(weights, path)
    return pyannote_model(weights, path, monkeypatch)


def make_data(root: Path, utts: list[str]) -> Path:
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "wav.scp").write_text("".join(f"{u} {FIXTURE / (u + '.wav')}\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} {u}\n" for u in utts))
    return data


def extract(conf: Path, ckpt: Path, data: Path, out: Path, venv_bin: Path
            ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv_bin / "seedkit-extract"), "--config", str(conf), "--checkpoint", str(ckpt),
         "--crop", "full", "--device", "cpu", "--num-threads", "1", "--no-progress", str(data),
         f"ark,scp:{out}.ark,{out}.scp"], capture_output=True, text=True)


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_state_dict_equals_wespeakers(fixture):
    own = WeSpeakerResNet34().state_dict()
    assert {k: list(v.shape) for k, v in own.items()} == fixture["state_dict_shapes"]
    assert own["seg_1.weight"].shape == (256, 5120)


@pytest.mark.parametrize("layout", ["avg_model.pt", "pytorch_model.bin"])
def test_seedkit_extract_equals_wespeaker(layout, fixture, weights, tmp_path, monkeypatch,
                                          venv_bin):
    ckpt = published_model(layout, weights, tmp_path / layout, monkeypatch)
    utts = sorted(fixture["embeddings"])
    out = tmp_path / "emb"
    proc = extract(WESPEAKER_CONF, ckpt, make_data(tmp_path, utts), out, venv_bin)
    assert proc.returncode == 0, proc.stderr
    got = read_embeddings(f"scp:{out}.scp")
    worst = max(rel_diff(np.asarray(got[u], np.float32), np.asarray(fixture["embeddings"][u]))
                for u in utts)
    print(f"WeSpeakerResNet34 ({layout}) vs WeSpeaker's code: max rel diff {worst:.2e}")
    assert worst <= 1e-4


def test_front_end_is_wespeakers_and_cmn_matters(weights, fixture):
    model = WeSpeakerResNet34()
    load_backbone_checkpoint(model, weights)
    model.eval()
    wav, _ = sf.read(str(FIXTURE / "utt1.wav"), dtype="float32")
    ref = np.asarray(fixture["embeddings"]["utt1"])
    with torch.no_grad():
        assert rel_diff(model(torch.from_numpy(wav)[None])[0].numpy(), ref) <= 1e-4
        model.cmn = False
        assert rel_diff(model(torch.from_numpy(wav)[None])[0].numpy(), ref) > 1e-2


def test_batch_of_crops_equals_one_by_one(weights):
    model = WeSpeakerResNet34()
    load_backbone_checkpoint(model, weights)
    model.eval()
    wav, _ = sf.read(str(FIXTURE / "utt2.wav"), dtype="float32")
    crops = torch.from_numpy(np.stack([wav[:8_000], wav[8_000:16_000], wav[-8_000:]]))
    with torch.no_grad():
        batch = model(crops).numpy()
        one = np.concatenate([model(c[None]).numpy() for c in crops])
        short = model(torch.from_numpy(wav[:model.min_samples])[None])
    assert rel_diff(batch, one) <= 1e-5
    assert bool(torch.isfinite(short).all())


# ------------------------------------------------------------------- mismatches (bad input)
def speechbrain_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save(SpeechBrainECAPA().state_dict(), path)
    return path


def load_error(conf: Path, ckpt: Path) -> str:
    with pytest.raises(SeedkitError) as err:
        build_from_config(load_backbone_config(conf), checkpoint=str(ckpt))
    return str(err.value)


def test_speechbrain_checkpoint_to_wespeaker_conf_names_keys_and_conf(tmp_path):
    msg = load_error(WESPEAKER_CONF, speechbrain_checkpoint(tmp_path / "embedding_model.ckpt"))
    assert "does not fit model WeSpeakerResNet34" in msg
    assert "missing key(s): conv1.weight" in msg and "unexpected key(s): blocks.0.conv" in msg
    assert "set 'model: SpeechBrainECAPA'" in msg and "conf/speechbrain_ecapa.yaml" in msg


@pytest.mark.parametrize("layout", ["avg_model.pt", "pytorch_model.bin"])
def test_wespeaker_checkpoint_to_speechbrain_conf_names_keys_and_conf(layout, weights, tmp_path,
                                                                      monkeypatch):
    ckpt = published_model(layout, weights, tmp_path / layout, monkeypatch)
    msg = load_error(SPEECHBRAIN_CONF, ckpt)
    assert "does not fit model SpeechBrainECAPA" in msg
    assert "missing key(s): blocks.0.conv.conv.weight" in msg and "conv1.weight" in msg
    assert "set 'model: WeSpeakerResNet34'" in msg and "conf/wespeaker_resnet34.yaml" in msg


@pytest.mark.parametrize("conf", [WESPEAKER_CONF, SPEECHBRAIN_CONF])
def test_seed_release_ecapa_checkpoint_names_its_conf(conf, tmp_path):
    from seedkit.models.ecapa_tdnn import ECAPA_TDNN  # noqa: PLC0415

    torch.manual_seed(0)
    ckpt = tmp_path / "official_ecapatdnn.model"
    torch.save(ECAPA_TDNN().state_dict(), ckpt)
    msg = load_error(conf, ckpt)
    assert "missing key(s)" in msg and "unexpected key(s)" in msg
    assert "set 'model: ECAPA_TDNN'" in msg and "conf/ecapa_tdnn.yaml" in msg


class TrainingOptions:
    """A class of this test module, pickled into a checkpoint (not metadata seedkit knows)."""


def test_other_pickled_class_is_one_error_line(weights, tmp_path, capsys):
    """Only pyannote/Lightning metadata is read as stand-ins; any other class is refused."""
    ckpt = tmp_path / "avg_model.pt"
    torch.save({"state_dict": dict(weights), "opts": TrainingOptions()}, ckpt)
    data = make_data(tmp_path, ["utt1"])
    out = tmp_path / "emb"
    status = run_main(extract_bin.main, prog="seedkit-extract", argv=[
        "--config", str(WESPEAKER_CONF), "--checkpoint", str(ckpt), "--crop", "full",
        "--device", "cpu", "--no-progress", str(data), f"ark,scp:{out}.ark,{out}.scp"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status != 0 and len(lines) == 1, lines
    assert lines[0].startswith(f"ERROR (seedkit-extract): {ckpt}:0: ")
    assert "TrainingOptions" in lines[0]
    assert "pickled Python objects" in lines[0] and "weights_only" in lines[0]
    assert not list(tmp_path.glob("emb*"))


def test_pyannote_tensor_slot_holding_a_stand_in_is_refused(weights, tmp_path, monkeypatch):
    """A pyannote object where a weight should be is not a state dict: refused, never loaded."""
    names = ["pyannote", "pyannote.audio"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    holder = type("Thing", (), {"__module__": "pyannote.audio"})
    sys.modules["pyannote.audio"].Thing = holder
    sd = {f"resnet.{k}": v for k, v in weights.items()}
    sd["resnet.seg_1.weight"] = holder()
    torch.save({"state_dict": sd}, tmp_path / "bad.bin")
    for name in names:
        monkeypatch.delitem(sys.modules, name)
    msg = load_error(WESPEAKER_CONF, tmp_path / "bad.bin")
    assert "not a state dict" in msg and "resnet.seg_1.weight" in msg
