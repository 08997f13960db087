"""(slow) The mini recipe end to end with the deployed-model backbone confs (issue 23, item 6):
``./run.sh --mini-size tiny --backbone-conf <conf> --allow-random-backbone true`` for
``speechbrain_ecapa.yaml`` and ``wespeaker_resnet34.yaml``.

Each run uses the shipped conf with only its network sizes shrunk (written to a temporary file of
the same name; model, front end and every other key as shipped): the published sizes (20.8M and
6.6M parameters) took 576 s for stage 4 alone at ``--mini-size tiny`` on the 2-core machine. Each
run works in its own copy of the session's finished tiny run (``tiny_run``, tests/conftest.py)
without its GE2E outputs (exp/ge2e, RESULTS.md): stages 0-3 find their stamps and skip, stages
4-7 run with the backbone conf.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import copy_run

from seedkit.embio import read_embeddings

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs" / "mini" / "seed"
SHRINK = {"speechbrain_ecapa.yaml": {"channels": [32, 32, 32, 32, 96], "attention_channels": 8},
          "wespeaker_resnet34.yaml": {"m_channels": 4}}
EVAL_SETS = ["eval_clean", "eval_mix", "eval_snr0", "eval_snr5", "eval_snr10", "eval_snr15"]


def small_conf(name: str, dest: Path) -> Path:
    """The shipped mini conf ``name`` with its network sizes replaced by ``SHRINK[name]``."""
    data = yaml.safe_load((RECIPE / "conf" / name).read_text())
    data["model_args"].update(SHRINK[name])
    dest.mkdir(exist_ok=True)
    out = dest / name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name,dim", [("speechbrain_ecapa.yaml", 192),
                                      ("wespeaker_resnet34.yaml", 256)])
def test_mini_recipe_runs_with_the_backbone_conf(name, dim, tiny_run, tmp_path, monkeypatch):
    workdir = copy_run(tiny_run, tmp_path / "seed", "exp/ge2e", "RESULTS.md")
    conf = small_conf(name, tmp_path / "confs")
    proc = subprocess.run(["./run.sh", "--mini-size", "tiny", "--backbone-conf", str(conf),
                           "--allow-random-backbone", "true"], cwd=workdir,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    exp = workdir / "exp" / f"{conf.stem}_random"
    monkeypatch.chdir(workdir)
    for x in EVAL_SETS:
        utts = [line.split()[0] for line in
                (workdir / "data" / x / "utt2spk").read_text().splitlines()]
        for sub in ("xvectors", "seed_rdm_mlp3/xvectors"):
            emb = read_embeddings(f"scp:{exp / sub / x / 'xvector.scp'}")
            assert sorted(emb) == sorted(utts)
            assert all(v.shape == (dim,) for v in emb.values())
        assert (exp / "scores/seed_rdm_mlp3" / x / "metrics.json").is_file()
    assert "| eval_mix | SEED |" in proc.stdout
    assert "random weights" in proc.stdout
    for n in range(4):  # the shared run's corpus, data dirs and training pairs were reused
        block = proc.stdout.split(f"stage {n}:")[1].split(f"stage {n} done")[0]
        assert "up to date; skipping" in block, f"stage {n} redid its work:\n{block}"
