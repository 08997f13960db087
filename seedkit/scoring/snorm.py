"""Score normalisation against a cohort: adaptive s-norm (AS-norm) and z/t/s-norm.

For a raw cosine score ``s(e, t)`` and a cohort ``C`` (unit vectors; e.g. per-speaker means of a
training set), let ``S_e = {cos(e, c) : c in C}`` and ``S_t`` likewise. With ``top_n = N`` only the
``N`` highest values of each set are kept (adaptive); with ``top_n = None`` the whole cohort is
used. ``mu`` and ``sigma`` are their mean and population standard deviation (ddof = 0):

* z-norm:  ``(s - mu_e) / sigma_e``
* t-norm:  ``(s - mu_t) / sigma_t``
* s-norm:  ``((s - mu_e) / sigma_e + (s - mu_t) / sigma_t) / 2``
* AS-norm: s-norm with top-N statistics (wespeaker ``score_norm.py``; default N = 300).

The statistics are computed once per distinct enroll and test key (``keys x cohort`` products in
row blocks of bounded size), then applied per trial in one vectorised step.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from seedkit.errors import OptionError, Param, SeedkitError

__all__ = ["MODES", "cohort_stats", "normalize_scores"]

MODES = ("znorm", "tnorm", "snorm", "asnorm")
_BLOCK_ELEMS = 1 << 24  # rows x cohort scores per block (64 MiB of float32)


def cohort_stats(x_unit: np.ndarray, cohort_unit: np.ndarray, top_n: Optional[int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof 0, float64) of each row's top-N cosine scores against the cohort."""
    n_c = cohort_unit.shape[0]
    if top_n is not None and top_n <= 0:
        raise OptionError(Param("top_n"), f" must be positive, got {top_n}")
    k = n_c if top_n is None else min(int(top_n), n_c)
    mu = np.empty(x_unit.shape[0])
    sd = np.empty(x_unit.shape[0])
    rows = max(1, _BLOCK_ELEMS // max(n_c, 1))
    for s in range(0, x_unit.shape[0], rows):
        sc = x_unit[s:s + rows] @ cohort_unit.T
        if k < n_c:
            sc = np.partition(sc, n_c - k, axis=1)[:, n_c - k:]
        sc = sc.astype(np.float64)
        mu[s:s + rows] = sc.mean(axis=1)
        sd[s:s + rows] = sc.std(axis=1)
    return mu, sd


def normalize_scores(raw: np.ndarray, ei: np.ndarray, ti: np.ndarray, enroll_unit: np.ndarray,
                     test_unit: np.ndarray, cohort_unit: np.ndarray, mode: str,
                     top_n: Optional[int] = None) -> np.ndarray:
    """Normalise ``raw[k] = cos(enroll_unit[ei[k]], test_unit[ti[k]])`` (see module docstring).

    ``top_n=None`` uses the whole cohort; ``asnorm`` with ``top_n=None`` uses 300.
    """
    if mode not in MODES:
        raise SeedkitError(f"unknown normalisation {mode!r}; use one of {', '.join(MODES)}")
    if cohort_unit.shape[1] != enroll_unit.shape[1]:
        raise SeedkitError(f"cohort embeddings have dimension {cohort_unit.shape[1]} but the "
                           f"trial embeddings have {enroll_unit.shape[1]}; use a cohort from the "
                           "same backbone")
    if mode == "asnorm" and top_n is None:
        top_n = 300
    raw = raw.astype(np.float64)
    terms = []
    if mode in ("znorm", "snorm", "asnorm"):
        ue, inv = np.unique(ei, return_inverse=True)
        mu, sd = cohort_stats(enroll_unit[ue], cohort_unit, top_n)
        terms.append((raw - mu[inv]) / np.maximum(sd[inv], 1e-12))
    if mode in ("tnorm", "snorm", "asnorm"):
        ut, inv = np.unique(ti, return_inverse=True)
        mu, sd = cohort_stats(test_unit[ut], cohort_unit, top_n)
        terms.append((raw - mu[inv]) / np.maximum(sd[inv], 1e-12))
    return terms[0] if len(terms) == 1 else 0.5 * (terms[0] + terms[1])
