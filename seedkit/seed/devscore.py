"""Dev scoring during SEED training: a trial list with its embeddings, scored by cosine EER.

:func:`load_dev` reads and checks the trials and keeps only the embeddings they use;
:func:`dev_eer` enhances them with the current model (or not: the raw baseline) and returns the
EER in percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from seedkit.data.trials import read_trials
from seedkit.embio import read_embeddings
from seedkit.errors import SeedkitError
from seedkit.scoring.cosine import cosine_scores
from seedkit.scoring.metrics import compute_eer
from seedkit.scoring.multicrop import mean_cosine_scores
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.enhance import RowEnhancer


@dataclass
class DevSet:
    """Dev trials, their labels and the enrollment / test embeddings they name."""

    trials: list
    labels: np.ndarray
    enroll: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    where: str


def load_dev(trials_path: str, enroll_rspec: str, test_rspec: str) -> DevSet:
    """Read a dev trial list and its embeddings; only keys used by trials are kept."""
    trials = read_trials(trials_path)
    enroll = read_embeddings(enroll_rspec)
    test = enroll if test_rspec == enroll_rspec else read_embeddings(test_rspec)
    missing = [t for t in trials if t.enroll not in enroll or t.test not in test]
    if missing:
        first = ", ".join(f"{t.enroll} {t.test}" for t in missing[:5])
        raise SeedkitError(f"{len(missing)} dev trial(s) name keys without embeddings (first: "
                           f"{first}); give the matching --dev-enroll/--dev-test", trials_path)
    labels = np.array([t.target for t in trials], dtype=bool)
    if labels.all() or not labels.any():
        raise SeedkitError("dev trials need both target and nontarget trials to give an EER",
                           trials_path)
    e_keys = {t.enroll for t in trials}
    t_keys = {t.test for t in trials}
    return DevSet(trials, labels, {k: enroll[k] for k in e_keys}, {k: test[k] for k in t_keys},
                  trials_path)


def dev_eer(dev: DevSet, model: Optional[SeedDiffusion], device: torch.device, seed: int,
            batch_size: int) -> float:
    """Cosine-scored EER (%) of the dev trials, after enhancement with ``model`` (None: raw)."""
    enroll, test = dev.enroll, dev.test
    if model is not None:
        enh = RowEnhancer(model, str(device), seed=seed, batch_size=batch_size)
        enroll = enh.enhance_dict(enroll)
        test = enroll if dev.test is dev.enroll else enh.enhance_dict(test)
    matrices = any(v.ndim == 2 for v in enroll.values()) or any(v.ndim == 2 for v in test.values())
    if matrices:
        scores = mean_cosine_scores(dev.trials, enroll, test)
    else:
        scores = cosine_scores(dev.trials, enroll, test)
    return float(compute_eer(np.asarray(scores, dtype=np.float64), dev.labels))
