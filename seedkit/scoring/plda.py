"""LDA + length normalisation + two-covariance PLDA (trained by EM) with LLR scoring.

Pipeline (as Kaldi's x-vector back end): ``x -> x - m0`` (training mean) ``-> P^T x`` (LDA,
optional) ``-> sqrt(d) x / ||x||`` (length normalisation, optional) ``-> PLDA``.

**LDA.** With within-class scatter ``S_w = 1/N sum_s sum_i (x_i - m_s)(x_i - m_s)^T`` and
between-class scatter ``S_b = 1/N sum_s n_s (m_s - m)(m_s - m)^T``, ``P`` holds the ``d`` leading
generalised eigenvectors of ``S_b v = lambda S_w v``, scaled so that ``P^T S_w P = I``.

Conditioning: ``S_w`` (and the EM's starting ``Phi_w``, ``Phi_b``) get a ridge of 1e-6 times their
mean diagonal, every EM estimate one of 1e-12; results differ from ridge-free formulas by about
1e-6 relative (``tests/scoring/test_scoring_plda.py`` compares with an independent computation).

**Two-covariance PLDA.** A speaker has a latent ``y ~ N(mu, Phi_b)``; each embedding of that
speaker is ``x = y + eps``, ``eps ~ N(0, Phi_w)``.

*EM* (Sizov et al., 2014). E-step, for speaker ``s`` with ``n_s`` embeddings summing to ``f_s``:
``L_s = B + n_s W`` (``B = Phi_b^-1``, ``W = Phi_w^-1``), ``E[y_s] = L_s^-1 (B mu + W f_s)``,
``Cov[y_s] = L_s^-1``. M-step, with ``R_s = E[y_s] E[y_s]^T + L_s^-1``, ``S`` speakers and ``N``
embeddings:
``mu = 1/S sum_s E[y_s]``;
``Phi_b = 1/S sum_s R_s - mu mu^T``;
``Phi_w = 1/N (sum_i x_i x_i^T - sum_s (f_s E[y_s]^T + E[y_s] f_s^T) + sum_s n_s R_s)``.
EM starts from ``mu`` = the data mean, ``Phi_w`` = the within-speaker scatter / N and ``Phi_b`` =
the covariance of the speaker means (over speakers, about their mean).

*Scoring.* The log-likelihood ratio of same vs different speaker for ``x1, x2``:
``LLR = log N([x1; x2]; [mu; mu], [[Phi_t, Phi_b], [Phi_b, Phi_t]])
        - log N(x1; mu, Phi_t) - log N(x2; mu, Phi_t)``, ``Phi_t = Phi_b + Phi_w``.
With ``V`` from the generalised eigenproblem ``Phi_b v = psi Phi_w v`` (``V^T Phi_w V = I``,
``V^T Phi_b V = diag(psi)``) and ``u = V^T (x - mu)`` the model is diagonal and
``LLR = sum_k [ Q_k (u1_k^2 + u2_k^2) + 2 P_k u1_k u2_k + c_k ]`` with
``Q_k = (1/(1+psi_k) - (1+psi_k)/(1+2 psi_k)) / 2``, ``P_k = psi_k / (2 (1+2 psi_k))``,
``c_k = log(1+psi_k) - log(1+2 psi_k) / 2``. Per trial this is one dot product
(``(P*u1) . u2``) plus two per-key terms, computed in chunks.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import scipy.linalg

from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_output
from seedkit.scoring.index import DEFAULT_CHUNK, pair_dot

log = logging.getLogger(__name__)

FORMAT = "seedkit-plda-v1"

__all__ = ["PLDA", "PLDABackend", "compute_lda", "length_normalize", "load_plda", "save_plda",
           "train_plda", "train_plda_backend"]


def _ridge(m: np.ndarray, rel: float = 1e-9) -> np.ndarray:
    """``m`` made safely positive definite: symmetrised, plus ``rel * mean diagonal``."""
    m = 0.5 * (m + m.T)
    return m + np.eye(m.shape[0]) * rel * max(float(np.trace(m)) / m.shape[0], 1e-300)


def length_normalize(x: np.ndarray) -> np.ndarray:
    """Scale each row to norm ``sqrt(dim)``."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x * (np.sqrt(x.shape[1]) / np.maximum(norm, 1e-12))


def _class_stats(x: np.ndarray, spk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(counts [S], sums [S, D], index)``: ``spk`` may be any labels."""
    _, idx = np.unique(spk, return_inverse=True)
    counts = np.bincount(idx).astype(np.float64)
    sums = np.zeros((counts.size, x.shape[1]))
    np.add.at(sums, idx, x)
    return counts, sums, idx


def compute_lda(x: np.ndarray, spk: np.ndarray, dim: int) -> np.ndarray:
    """LDA projection ``[D, dim]`` (``P^T S_w P = I``, leading between-class directions first)."""
    counts, sums, idx = _class_stats(x, spk)
    n_spk, d_in = counts.size, x.shape[1]
    if not 0 < dim <= d_in:
        raise OptionError(Param("lda_dim", dim), " must be between 1 and the embedding "
                          f"dimension {d_in}")
    if dim > n_spk - 1:
        raise OptionError(Param("lda_dim", dim), f" needs at least {dim + 1} speakers (the "
                          "between-class scatter has rank <= speakers - 1); got "
                          f"{n_spk}: lower ", Param("lda_dim"), " or train on more speakers")
    means = sums / counts[:, None]
    m = x.mean(axis=0)
    dev = x - means[idx]
    sw = dev.T @ dev / x.shape[0]
    db = (means - m) * np.sqrt(counts)[:, None]
    sb = db.T @ db / x.shape[0]
    w, v = scipy.linalg.eigh(_ridge(sb), _ridge(sw, 1e-6))
    return v[:, ::-1][:, :dim].copy()


@dataclass
class PLDA:
    """Two-covariance PLDA: ``mu`` [d], ``phi_b``, ``phi_w`` [d, d] (see module docstring)."""

    mu: np.ndarray
    phi_b: np.ndarray
    phi_w: np.ndarray

    def diagonalize(self) -> tuple[np.ndarray, np.ndarray]:
        """``(V, psi)`` with ``V^T Phi_w V = I`` and ``V^T Phi_b V = diag(psi)``."""
        psi, v = scipy.linalg.eigh(_ridge(self.phi_b, 1e-12), _ridge(self.phi_w, 1e-12))
        return v, np.maximum(psi, 0.0)

    def llr_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``(V, Q, P, const)`` of the diagonal LLR form."""
        v, psi = self.diagonalize()
        q = 0.5 * (1.0 / (1.0 + psi) - (1.0 + psi) / (1.0 + 2.0 * psi))
        p = 0.5 * psi / (1.0 + 2.0 * psi)
        const = float(np.sum(np.log1p(psi) - 0.5 * np.log1p(2.0 * psi)))
        return v, q, p, const

    def llr(self, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        """LLR of row pairs ``x1[k], x2[k]`` (already in PLDA space)."""
        v, q, p, const = self.llr_terms()
        u1 = (x1 - self.mu) @ v
        u2 = (x2 - self.mu) @ v
        return (u1 * u1 + u2 * u2) @ q + 2.0 * np.einsum("ij,ij->i", u1 * p, u2) + const

    def log_likelihood(self, x: np.ndarray, spk: np.ndarray) -> float:
        """Marginal log-likelihood of the data under the model (speakers integrated out)."""
        v, psi = self.diagonalize()
        u = (x - self.mu) @ v
        counts, sums, idx = _class_stats(u, spk)
        sq = np.zeros_like(sums)
        np.add.at(sq, idx, u * u)
        n = counts[:, None]
        quad = sq - psi / (1.0 + n * psi) * sums * sums
        ll = -0.5 * (n * np.log(2 * np.pi) + np.log1p(n * psi) + quad)
        _, logdet_v = np.linalg.slogdet(v)
        return float(ll.sum() + x.shape[0] * logdet_v)


def train_plda(x: np.ndarray, spk: np.ndarray, n_iter: int = 10,
               history: Optional[list] = None) -> PLDA:
    """Two-covariance PLDA by EM (module docstring); ``history`` collects log-likelihoods."""
    x = np.asarray(x, dtype=np.float64)
    counts, sums, idx = _class_stats(x, spk)
    n_spk, n, d = counts.size, x.shape[0], x.shape[1]
    if n_spk < 2:
        raise SeedkitError(f"PLDA needs at least 2 speakers, got {n_spk}")
    if n == n_spk:
        raise SeedkitError("every speaker has one embedding: PLDA cannot separate within- from "
                           "between-speaker variability; use speakers with several utterances")
    if not np.all(np.isfinite(x)):
        raise SeedkitError("training embeddings contain NaN or inf; re-extract them")
    means = sums / counts[:, None]
    dev = x - means[idx]
    mu = x.mean(axis=0)
    _check_variances(x - mu, dev, means - mu)
    phi_w = _ridge(dev.T @ dev / n, 1e-6)
    dm = means - means.mean(axis=0)
    phi_b = _ridge(dm.T @ dm / n_spk, 1e-6)
    sxx = x.T @ x
    model = PLDA(mu, phi_b, phi_w)
    for it in range(n_iter):
        b_inv = np.linalg.inv(model.phi_b)
        w_inv = np.linalg.inv(model.phi_w)
        bmu = b_inv @ model.mu
        ey = np.empty_like(sums)
        cov_sum = np.zeros((d, d))   # sum_s L_s^-1
        ncov_sum = np.zeros((d, d))  # sum_s n_s L_s^-1
        for c in np.unique(counts):
            sel = np.flatnonzero(counts == c)
            linv = np.linalg.inv(b_inv + c * w_inv)
            ey[sel] = (bmu + sums[sel] @ w_inv) @ linv
            cov_sum += sel.size * linv
            ncov_sum += sel.size * c * linv
        mu = ey.mean(axis=0)
        r = ey.T @ ey + cov_sum
        phi_b = r / n_spk - np.outer(mu, mu)
        fy = sums.T @ ey
        nyy = (ey * counts[:, None]).T @ ey + ncov_sum
        phi_w = (sxx - fy - fy.T + nyy) / n
        model = PLDA(mu, _ridge(phi_b, 1e-12), _ridge(phi_w, 1e-12))
        if history is not None:
            history.append(model.log_likelihood(x, spk))
        log.debug("PLDA EM iteration %d done", it + 1)
    if not all(np.all(np.isfinite(a)) for a in (model.mu, model.phi_b, model.phi_w)):
        raise OptionError("PLDA training diverged (NaN or inf in the model): a covariance is "
                          "singular; use more embeddings per speaker and more speakers than "
                          "dimensions, or reduce the dimension with ", Param("lda_dim"))
    return model


#: Variance (relative to the total) below which a PLDA covariance counts as absent.
_MIN_REL_VAR = 1e-10


def _check_variances(centred: np.ndarray, within: np.ndarray, between: np.ndarray) -> None:
    """Refuse data without total, within-speaker or between-speaker variability."""
    total = float(np.sum(centred * centred))
    scale = float(np.sum(np.abs(centred))) + 1e-300
    if total <= 1e-20 * max(scale, 1.0):
        raise SeedkitError("all training embeddings are identical (no variance at all); "
                           "PLDA needs real embeddings of several speakers: check the input")
    if float(np.sum(within * within)) <= _MIN_REL_VAR * total:
        raise SeedkitError("no within-speaker variance: the embeddings of each speaker are "
                           "identical (duplicated utterances, or a wrong utt2spk?); PLDA needs "
                           "several different embeddings per speaker")
    if float(np.sum(between * between)) <= _MIN_REL_VAR * total:
        raise SeedkitError("no between-speaker variance: every speaker has the same mean "
                           "embedding (a wrong utt2spk?); PLDA needs distinct speakers")


@dataclass
class PLDABackend:
    """Mean subtraction + LDA + length norm + PLDA, saved as one ``.npz``-format file."""

    mean: np.ndarray              # [D] training mean (subtracted first)
    lda: Optional[np.ndarray]     # [D, d] or None
    length_norm: bool
    plda: PLDA

    @property
    def input_dim(self) -> int:
        return int(self.mean.shape[0])

    def transform(self, x: np.ndarray, where: str = "embeddings") -> np.ndarray:
        """Embeddings ``[N, D]`` -> PLDA space ``[N, d]`` (float64)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            got = x.shape[-1] if x.ndim else 0
            raise SeedkitError(f"{where} have dimension {got} but the PLDA model was trained on "
                               f"dimension {self.input_dim}; use a PLDA model trained on "
                               "embeddings of the same backbone")
        y = x - self.mean
        if self.lda is not None:
            y = y @ self.lda
        if self.length_norm:
            y = length_normalize(y)
        return y

    def score_pairs(self, a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray,
                    chunk: int = DEFAULT_CHUNK, where: tuple[str, str] = ("enroll", "test")
                    ) -> np.ndarray:
        """LLR for ``(a[ia[k]], b[ib[k]])``; each side is transformed once per key."""
        v, q, p, const = self.plda.llr_terms()
        ua = (self.transform(a, where[0]) - self.plda.mu) @ v
        ub = ua if b is a else (self.transform(b, where[1]) - self.plda.mu) @ v
        qa = (ua * ua) @ q
        qb = qa if b is a else (ub * ub) @ q
        return qa[ia] + qb[ib] + 2.0 * pair_dot(ua * p, ia, ub, ib, chunk) + const


def train_plda_backend(x: np.ndarray, spk: np.ndarray, lda_dim: Optional[int] = None,
                       length_norm: bool = True, n_iter: int = 10) -> PLDABackend:
    """Fit the whole back end on labelled embeddings ``x`` [N, D] with speaker labels ``spk``."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    lda = compute_lda(x - mean, spk, lda_dim) if lda_dim else None
    backend = PLDABackend(mean, lda, length_norm, PLDA(np.zeros(1), np.eye(1), np.eye(1)))
    y = backend.transform(x, "training embeddings")
    backend.plda = train_plda(y, spk, n_iter)
    return backend


def save_plda(backend: PLDABackend, path: PathLike) -> None:
    """Write atomically (numpy ``.npz`` content, whatever the file name)."""
    meta = {"format": FORMAT, "input_dim": backend.input_dim,
            "lda_dim": None if backend.lda is None else int(backend.lda.shape[1]),
            "length_norm": backend.length_norm}
    arrays = {"meta": np.array(json.dumps(meta)), "mean": backend.mean,
              "mu": backend.plda.mu, "phi_b": backend.plda.phi_b, "phi_w": backend.plda.phi_w}
    if backend.lda is not None:
        arrays["lda"] = backend.lda
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_plda(path: PathLike) -> PLDABackend:
    """Read a model written by :func:`save_plda`; a foreign or damaged file is a clear error."""
    p = Path(path)
    if not p.is_file():
        raise SeedkitError("PLDA model not found; train it with seedkit-train-plda", p)
    try:
        with np.load(io.BytesIO(p.read_bytes()), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
    except Exception as err:  # noqa: BLE001 - any parse failure means "not our model"
        raise SeedkitError(f"not a seedkit PLDA model ({err}); train it with "
                           "seedkit-train-plda", p) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise SeedkitError(f"unknown PLDA model format {got!r}; expected {FORMAT}", p)
    missing = [k for k in ("mean", "mu", "phi_b", "phi_w") if k not in arrays]
    if missing or "length_norm" not in meta:
        raise SeedkitError(f"PLDA model lacks {missing or ['length_norm']}; the file is damaged: "
                           "train it again with seedkit-train-plda", p)
    for k, a in arrays.items():
        if a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
            raise SeedkitError(f"PLDA model array {k!r} is not finite numbers (NaN, inf or "
                               "another type); the model is degenerate or damaged: train it "
                               "again with seedkit-train-plda", p)
    mean, lda, mu = arrays["mean"], arrays.get("lda"), arrays["mu"]
    d_in = mean.shape[0] if mean.ndim == 1 else -1
    d = lda.shape[1] if lda is not None and lda.ndim == 2 else d_in
    ok = (mean.ndim == 1 and mu.shape == (d,) and arrays["phi_b"].shape == (d, d)
          and arrays["phi_w"].shape == (d, d)
          and (lda is None or lda.shape[0] == d_in))
    if not ok:
        raise SeedkitError("PLDA model arrays have inconsistent shapes; the file is damaged: "
                           "train it again with seedkit-train-plda", p)
    return PLDABackend(mean.astype(np.float64), None if lda is None else lda.astype(np.float64),
                       bool(meta["length_norm"]),
                       PLDA(mu.astype(np.float64), arrays["phi_b"].astype(np.float64),
                            arrays["phi_w"].astype(np.float64)))
