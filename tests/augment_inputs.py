"""The inputs of the augmentation tests (test_augment, test_augment_policy, test_render_spec,
test_seed_onthefly, test_faults_audio): a small clean 16 kHz data dir, MUSAN and RIR data dirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seedkit.corpus import real_layout as rl
from seedkit.data.datadir import DataDir, write_data_dir
from seedkit.prepare import corpora


def make_inputs(root: Path, seconds: tuple[float, ...] = (3.1, 1.3, 2.6),
                musan_per_subset: int = 1) -> Path:
    """Under ``root``: a clean 16 kHz data dir (two speakers, one utterance of each length in
    ``seconds``), MUSAN and RIR data dirs; returns ``root / "data"``."""
    rng = np.random.default_rng(1)
    dd = DataDir()
    for spk, f0 in (("spkA", 120.0), ("spkB", 210.0)):
        for i, sec in enumerate(seconds):
            key = f"{spk}-{i:03d}"
            path = root / "clean" / f"{key}.wav"
            rl._write(path, rl.voice(16000, sec, f0, 1.0, rng), 16000)
            dd.wav_scp[key] = str(path)
            dd.utt2spk[key] = spk
    write_data_dir(dd, root / "data" / "clean")
    rl.write_musan(root, per_subset=musan_per_subset, seed=3)
    rl.write_rirs_noises(root, rooms=1, per_room=2, seed=3)
    corpora.prepare_musan(root / "musan", root / "data")
    corpora.prepare_rirs(root / "RIRS_NOISES", root / "data")
    return root / "data"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A clean 16 kHz data dir (long and short utterances), MUSAN and RIR data dirs."""
    return make_inputs(tmp_path_factory.mktemp("aug_inputs"))
