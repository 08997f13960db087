"""The training-pair cost the VoxCeleb recipe prints before stages 3-4 (seedkit.prepare.plan)."""

import subprocess
import sys
from pathlib import Path

import pytest

from seedkit.prepare.plan import pair_cost, pair_plan

REPO = Path(__file__).resolve().parents[2]


def test_fresh_crops_cost_four_passes_per_round_one_crop_one_plus_three():
    fresh = pair_cost(100, 3, fresh_crops=True)
    one = pair_cost(100, 3, fresh_crops=False)
    assert fresh.backbone_passes == fresh.pairs == 100 * 12
    assert one.backbone_passes == one.pairs == 100 * 10
    assert fresh.audio_bytes == 0 and one.audio_bytes == 0


def test_materialised_audio_is_16_bit_crops_with_headers():
    c = pair_cost(10, 2, fresh_crops=False, materialise=True, crop_sec=2.015)
    assert c.audio_bytes == 10 * 7 * (32240 * 2 + 44)
    # render-on-extract keeps the per-pair text far under the materialised audio
    assert c.spec_bytes < c.audio_bytes / 50


def test_embedding_bytes_follow_the_dimension():
    assert pair_cost(5, 1, embed_dim=512).embedding_bytes > 1.9 * pair_cost(
        5, 1, embed_dim=256).embedding_bytes


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        pair_cost(10, 0)


def test_plan_lines_name_mode_and_sizes():
    lines = pair_plan(150000, 2, fresh_crops=True, materialise=False, embed_dim=512)
    text = "\n".join(lines)
    assert "1200000 backbone passes" in text
    assert "no audio (render-on-extract)" in text and "D=512" in text
    text = "\n".join(pair_plan(800, 2, fresh_crops=False, materialise=True))
    assert "one crop per utterance" in text and "wav files 361.3 MB" in text


def test_recipe_script_counts_the_data_dir(tmp_path):
    d = tmp_path / "train"
    d.mkdir()
    (d / "utt2spk").write_text("".join(f"s1-u{i} s1\n" for i in range(7)))
    r = subprocess.run([sys.executable, str(REPO / "egs/voxceleb/seed/local/pair_plan.py"),
                        "--rounds", "2", str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "7 clean utterances, K=2" in r.stderr and "56 pairs" in r.stderr
    r = subprocess.run([sys.executable, str(REPO / "egs/voxceleb/seed/local/pair_plan.py"),
                        str(tmp_path / "missing")], capture_output=True, text=True)
    assert r.returncode != 0 and "utt2spk" in r.stderr and r.stderr.count("\n") == 1
