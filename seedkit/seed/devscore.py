"""Dev scoring during SEED training: a trial list with its embeddings, scored by cosine EER.

:func:`load_dev` reads and checks the trials and keeps only the embeddings they use;
:class:`DevScorer` enhances them with the weights of each epoch (or not: the raw baseline) and
returns the EER in percent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seedkit.data.trials import read_trials
from seedkit.embio import read_embeddings
from seedkit.errors import SeedkitError
from seedkit.scoring.cosine import cosine_scores
from seedkit.scoring.metrics import compute_eer
from seedkit.scoring.multicrop import mean_cosine_scores
from seedkit.seed.diffusion import SeedDiffusion
from seedkit.seed.enhance import RowEnhancer, keyed_noise


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


def _eer(dev: DevSet, enroll: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray]) -> float:
    """Cosine-scored EER (%) of the dev trials on these embeddings."""
    matrices = any(v.ndim == 2 for v in enroll.values()) or any(v.ndim == 2 for v in test.values())
    if matrices:
        scores = mean_cosine_scores(dev.trials, enroll, test)
    else:
        scores = cosine_scores(dev.trials, enroll, test)
    return float(compute_eer(np.asarray(scores, dtype=np.float64), dev.labels))


def _keyed_noise(emb: Mapping[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The keyed epsilon of every entry (:func:`seedkit.seed.enhance.keyed_noise`)."""
    out = {}
    for key, arr in emb.items():
        rows = 1 if arr.ndim == 1 else arr.shape[0]
        out[key] = keyed_noise(seed, key, rows, arr.shape[-1]).numpy().reshape(arr.shape)
    return out


class DevScorer:
    """The dev EER of the training run's weights, epoch after epoch.

    The probe model and the keyed epsilon of every dev row are made once (they depend only on the
    config and the dev set); each call loads the weights into the probe, enhances the dev
    embeddings on ``device`` and scores them: the same numbers as enhancing with a fresh
    :class:`~seedkit.seed.enhance.RowEnhancer` of a fresh model (``seed`` keys its noise)."""

    def __init__(self, dev: DevSet, cfg: Mapping[str, Any], device: torch.device):
        self.dev = dev
        with torch.random.fork_rng(devices=[]):  # building a net draws init weights
            self.model = SeedDiffusion(cfg)
        seed, batch = cfg["seed"], cfg["dev_batch_size"]
        diffusion = self.model.objective == "diffusion"
        self.enroll = RowEnhancer(self.model, str(device), seed=seed, batch_size=batch,
                                  noise=_keyed_noise(dev.enroll, seed) if diffusion else None)
        self.test = self.enroll if dev.test is dev.enroll else RowEnhancer(
            self.model, str(device), seed=seed, batch_size=batch,
            noise=_keyed_noise(dev.test, seed) if diffusion else None)

    def raw_eer(self) -> float:
        """The EER without enhancement."""
        return _eer(self.dev, self.dev.enroll, self.dev.test)

    def __call__(self, weights: Mapping[str, torch.Tensor]) -> float:
        """The EER after enhancement with the network weights ``weights``."""
        self.model.net.load_state_dict(weights)
        enroll = self.enroll.enhance_dict(self.dev.enroll)
        test = enroll if self.dev.test is self.dev.enroll else \
            self.test.enhance_dict(self.dev.test)
        return _eer(self.dev, enroll, test)
