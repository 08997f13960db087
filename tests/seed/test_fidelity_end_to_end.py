"""End-to-end fidelity through the command line: ``eval_end_to_end`` of ``rdm_mlp.json``.

The original code's evaluation (``ModelTrainer.evaluateFromList``) on three synthetic files and
four trials, with deterministic weights (``tests/reference_weights.py``) for the backbone
(``backbone_<name>.json``) and the diffusion net (``rdm_mlp.json``), is reproduced by the three
commands a user runs:

  seedkit-extract --crop multi:10:4.015   Kaldi data dir -> [10, D] crop matrices
  seedkit-enhance --noise ark:eps.ark     one-step enhancement with the stored epsilon
  seedkit-score --method seed             -mean L2 distance of unit crops, 4 trials
  seedkit-metrics                         EER and minDCF(0.05) of the 4 scores

and every intermediate is compared with the stored values: each crop's first four dimensions and
norm after the backbone and after enhancement, and the four trial scores. The fixture's files are
``deterministic_waveform(num_samples, seed)`` (= ``reference_weights.fixture_waveform``, float32
samples); they are written as 64-bit float wavs, which soundfile reads back bit-exactly.
Tolerance: the fixtures' own, rtol 1e-4 / atol 1e-5 (scores rtol 1e-4).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import reference_weights as mw
import soundfile as sf
import torch
from conftest import REPO, load_reference

from seedkit.audio import read_audio
from seedkit.crops import multi_crops
from seedkit.embio import read_embeddings, write_embeddings

RTOL, ATOL = 1e-4, 1e-5
CROP = 64240  # 4.015 s at 16 kHz: eval_frames 400 * 160 + 240
CONF = REPO / "egs" / "voxceleb" / "seed" / "conf"
CASES = {  # rdm_mlp entry -> (backbone fixture, backbone conf)
    "D512": ("backbone_ResNetSE34V2.json", CONF / "resnetse34v2.yaml"),
    "D256": ("backbone_ECAPA_TDNN.json", CONF / "ecapa_tdnn.yaml"),
}


def _key(path: str) -> str:
    """seedkit's key for a VoxCeleb-form trial path: ``.wav`` dropped, ``/`` -> ``-``."""
    return path[:-4].replace("/", "-")


def _cli(venv_bin: Path, prog: str, *argv) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(venv_bin / prog), *map(str, argv)], capture_output=True,
                          text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, f"{prog} failed:\n{proc.stderr}"


def _diffs(rows: np.ndarray, first4, norms, what: str) -> tuple[float, float]:
    """Compare [30, D] rows with the stored first-4 dims and norms; return the max abs diffs."""
    got4 = rows[:, :4].astype(np.float64)
    gotn = np.linalg.norm(rows.astype(np.float64), axis=1)
    np.testing.assert_allclose(got4, np.asarray(first4), rtol=RTOL, atol=ATOL,
                               err_msg=f"{what} first 4 dims")
    np.testing.assert_allclose(gotn, np.asarray(norms), rtol=RTOL, atol=ATOL,
                               err_msg=f"{what} norms")
    return float(np.abs(got4 - first4).max()), float(np.abs(gotn - norms).max())


@pytest.mark.slow  # about 25 s per backbone on 2 shared cores, mostly the 30 backbone crops
@pytest.mark.parametrize("entry_name", sorted(CASES))
def test_eval_end_to_end_through_the_cli(entry_name, tmp_path, venv_bin):
    entry = load_reference("rdm_mlp.json")["entries"][entry_name]
    e2e = entry["eval_end_to_end"]
    bb_name, bb_conf = CASES[entry_name]
    d = entry["D"]

    # --- the three files as a Kaldi data dir; trials in the VoxCeleb form, as the fixture's
    files = e2e["sorted_files"]
    assert files == sorted(e2e["files"])
    data = tmp_path / "data"
    data.mkdir()
    wav_scp, utt2spk = [], []
    for f in files:
        spec = e2e["files"][f]
        x = mw.fixture_waveform(spec["num_samples"], spec["seed"]).numpy()
        path = tmp_path / "wav" / f
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), x.astype(np.float64), 16000, subtype="DOUBLE", format="WAV")
        back, _ = read_audio(str(path), 16000)
        assert back.dtype == np.float32 and np.array_equal(back, x)  # lossless
        # the crops seedkit cuts are the original's: wrap-padded to padded_length, cut at
        # crop_starts (a diagnostic; the embeddings below are the real check)
        padded = np.pad(x, (0, spec["padded_length"] - len(x)), mode="wrap")
        want = np.stack([padded[c:c + CROP] for c in spec["crop_starts"]])
        assert np.array_equal(multi_crops(back, 10, CROP), want), f
        wav_scp.append(f"{_key(f)} {path}\n")
        utt2spk.append(f"{_key(f)} {f.split('/')[0]}\n")
    (data / "wav.scp").write_text("".join(wav_scp))
    (data / "utt2spk").write_text("".join(utt2spk))
    trials = tmp_path / "trials"
    trials.write_text("".join(t + "\n" for t in e2e["trials"]))
    keys = [_key(f) for f in files]

    # --- checkpoints: the deterministic weights as bare (official-layout) state dicts
    torch.save(mw.state_dict_from_spec(load_reference(bb_name)), tmp_path / "backbone.model")
    torch.save(mw.state_dict_from_spec(entry["state_dict"]), tmp_path / "seed.model")
    eps = np.asarray(e2e["epsilon"], dtype=np.float32)
    assert eps.shape == (10 * len(files), d)
    write_embeddings(f"ark:{tmp_path / 'eps.ark'}",
                     [(k, eps[i * 10:(i + 1) * 10]) for i, k in enumerate(keys)])

    # --- backbone: 10 crops of 4.015 s per file
    _cli(venv_bin, "seedkit-extract", "--config", bb_conf, "--checkpoint",
         tmp_path / "backbone.model", "--crop", "multi:10:4.015", "--device", "cpu",
         "--num-threads", "1", "--no-progress", data,
         f"ark,scp:{tmp_path / 'xv.ark'},{tmp_path / 'xv.scp'}")
    xv = read_embeddings(f"scp:{tmp_path / 'xv.scp'}")
    assert sorted(xv) == keys and all(xv[k].shape == (10, d) for k in keys)
    bb = np.concatenate([xv[k] for k in keys])  # row = file index * 10 + crop
    bb4, bbn = _diffs(bb, e2e["backbone_embeddings_first4"], e2e["backbone_embeddings_norm"],
                      f"{entry_name} backbone")

    # --- SEED one-step enhancement with the stored epsilon
    _cli(venv_bin, "seedkit-enhance", "--config", CONF / "seed_rdm_mlp3.yaml", "--noise",
         f"ark:{tmp_path / 'eps.ark'}", "--device", "cpu", tmp_path / "seed.model",
         f"scp:{tmp_path / 'xv.scp'}", f"ark,scp:{tmp_path / 'enh.ark'},{tmp_path / 'enh.scp'}")
    enh = read_embeddings(f"scp:{tmp_path / 'enh.scp'}")
    en = np.concatenate([enh[k] for k in keys])
    en4, enn = _diffs(en, e2e["enhanced_first4"], e2e["enhanced_norm"], f"{entry_name} enhanced")

    # --- SEED multi-crop scoring
    _cli(venv_bin, "seedkit-score", "--method", "seed", trials, f"scp:{tmp_path / 'enh.scp'}",
         f"scp:{tmp_path / 'enh.scp'}", tmp_path / "scores")
    lines = [ln.split() for ln in (tmp_path / "scores").read_text().splitlines()]
    want_pairs = [(_key(t.split()[1]), _key(t.split()[2])) for t in e2e["trials"]]
    assert [(a, b) for a, b, _ in lines] == want_pairs
    scores = np.array([float(s) for _, _, s in lines])
    exp = np.asarray(e2e["expected_scores"])
    np.testing.assert_allclose(scores, exp, rtol=RTOL, atol=0)
    sc = float(np.abs(scores - exp).max())
    # --- and the metrics the original printed for this list
    _cli(venv_bin, "seedkit-metrics", "--p-target", "0.05", "--json", tmp_path / "m.json",
         tmp_path / "scores", trials)
    res = json.loads((tmp_path / "m.json").read_text())
    assert res["eer_percent"] == pytest.approx(e2e["expected_eer"], abs=1e-9)
    assert res["min_dcf"]["0.05"]["value"] == pytest.approx(e2e["expected_mindcf_p0.05"], abs=1e-9)
    print(f"\n{entry_name} end-to-end max abs diff: backbone first4 {bb4:.3g} norm {bbn:.3g}; "
          f"enhanced first4 {en4:.3g} norm {enn:.3g}; scores {sc:.3g}")
