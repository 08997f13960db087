"""A synthetic speaker-embedding testbed for SEED (no audio, no backbone).

Model of the data (all seeded):
  - speaker identity lives on a low-dimensional subspace: a clean embedding is
    ``scale * (A z_spk + sigma_w n)`` with ``A`` a random ``D x r`` orthonormal basis, ``z_spk``
    the speaker's point and ``n`` within-speaker noise in the full space;
  - an *environment* type k owns a random ``D x q`` basis ``B_k``; an environment draw adds
    ``scale * strength * B_k w`` (mostly off the speaker subspace) plus a small isotropic noise,
    and shrinks the speaker part a little (``1 - shrink``), like a noisy recording does.
Training copies use the training environment types; evaluation uses *held-out* types (other
bases), like the mini corpus's unseen eval environments. A denoiser that learns "go back to the
clean manifold" generalises to them; one that memorises the training offsets does not.

:func:`write_testbed` writes the Kaldi-style files the command-line tools read;
``python -m seedkit.seed.synthetic OUT`` writes them and prints a summary.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from seedkit.data.trials import Trial, write_trials
from seedkit.embio import write_embeddings
from seedkit.fileio import write_lines


@dataclass
class SyntheticSpec:
    dim: int = 64
    speaker_rank: int = 12
    train_speakers: int = 120
    train_utts: int = 6
    eval_speakers: int = 30
    eval_utts: int = 6
    train_envs: int = 3
    eval_envs: int = 3
    env_rank: int = 4
    within: float = 0.35
    strength: float = 1.0
    shrink: float = 0.15
    iso_noise: float = 0.15
    scale: float = 0.0  # 0 = sqrt(dim)
    seed: int = 0


@dataclass
class SyntheticData:
    spec: SyntheticSpec
    clean: dict[str, np.ndarray] = field(default_factory=dict)
    noisy: dict[str, np.ndarray] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    eval_sets: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)


def _basis(rng: np.random.Generator, dim: int, rank: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    return q[:, :rank]


def make_testbed(spec: Optional[SyntheticSpec] = None) -> SyntheticData:
    """Build clean/noisy training embeddings, pairs, and eval sets ``clean`` and ``noisy``
    (held-out environments) over the same eval utterances, with all-pairs trials."""
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    d = spec.dim
    scale = spec.scale or float(np.sqrt(d))
    a = _basis(rng, d, spec.speaker_rank)
    env_bases = [_basis(rng, d, spec.env_rank) for _ in range(spec.train_envs + spec.eval_envs)]
    train_b, eval_b = env_bases[:spec.train_envs], env_bases[spec.train_envs:]

    def speaker() -> np.ndarray:
        return rng.standard_normal(spec.speaker_rank)

    def clean_utt(z: np.ndarray) -> np.ndarray:
        v = a @ z / np.sqrt(spec.speaker_rank) + spec.within * rng.standard_normal(d) / np.sqrt(d)
        return v

    def corrupt(v: np.ndarray, basis: np.ndarray) -> np.ndarray:
        w = rng.standard_normal(basis.shape[1]) / np.sqrt(basis.shape[1])
        return ((1 - spec.shrink) * v + spec.strength * basis @ w
                + spec.iso_noise * rng.standard_normal(d) / np.sqrt(d))

    tb = SyntheticData(spec)
    for s in range(spec.train_speakers):
        z = speaker()
        for u in range(spec.train_utts):
            key = f"tr{s:04d}-u{u:02d}"
            v = clean_utt(z)
            tb.clean[key] = (scale * v).astype(np.float32)
            for k, basis in enumerate(train_b):
                nk = f"{key}-env{k}"
                tb.noisy[nk] = (scale * corrupt(v, basis)).astype(np.float32)
                tb.pairs.append((nk, key))
    clean_eval: dict[str, np.ndarray] = {}
    noisy_eval: dict[str, np.ndarray] = {}
    spk_of: dict[str, int] = {}
    for s in range(spec.eval_speakers):
        z = speaker()
        for u in range(spec.eval_utts):
            key = f"ev{s:04d}-u{u:02d}"
            v = clean_utt(z)
            clean_eval[key] = (scale * v).astype(np.float32)
            basis = eval_b[int(rng.integers(len(eval_b)))]
            noisy_eval[key] = (scale * corrupt(v, basis)).astype(np.float32)
            spk_of[key] = s
    keys = sorted(clean_eval)
    for i, e in enumerate(keys):
        for t in keys[i + 1:]:
            tb.trials.append(Trial(e, t, spk_of[e] == spk_of[t]))
    tb.eval_sets = {"clean": clean_eval, "noisy": noisy_eval}
    return tb


def write_testbed(tb: SyntheticData, out: Path) -> dict[str, str]:
    """Write ``clean.{ark,scp}``, ``noisy.{ark,scp}``, ``utt2clean``, ``eval_<set>.{ark,scp}``,
    ``trials``; returns a name -> path map."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, emb in [("clean", tb.clean), ("noisy", tb.noisy)] + [
            (f"eval_{k}", v) for k, v in tb.eval_sets.items()]:
        write_embeddings(f"ark,scp:{out / (name + '.ark')},{out / (name + '.scp')}",
                         sorted(emb.items()))
        paths[name] = str(out / f"{name}.scp")
    write_lines(out / "utt2clean", (f"{a} {b}" for a, b in tb.pairs))
    write_trials(out / "trials", tb.trials)
    paths["pairs"] = str(out / "utt2clean")
    paths["trials"] = str(out / "trials")
    return paths


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m seedkit.seed.synthetic OUT_DIR", file=sys.stderr)
        return 2
    tb = make_testbed()
    paths = write_testbed(tb, Path(argv[0]))
    print(json.dumps({"clean": len(tb.clean), "noisy": len(tb.noisy), "pairs": len(tb.pairs),
                      "trials": len(tb.trials), "paths": paths}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
