"""AS-norm and z/t/s-norm against a direct loop implementation of the docstring formulas."""

from __future__ import annotations

import numpy as np
import pytest

from seedkit.errors import SeedkitError
from seedkit.scoring.snorm import normalize_scores


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _direct(e, t, c, ei, ti, mode, top_n):
    out = []
    for a, b in zip(ei, ti):
        s = float(e[a] @ t[b])
        se = np.sort(c @ e[a])[::-1][:top_n]
        st = np.sort(c @ t[b])[::-1][:top_n]
        z = (s - se.mean()) / se.std()
        tt = (s - st.mean()) / st.std()
        out.append({"znorm": z, "tnorm": tt, "snorm": (z + tt) / 2, "asnorm": (z + tt) / 2}[mode])
    return np.array(out)


@pytest.mark.parametrize("mode,top_n", [("znorm", None), ("tnorm", None), ("snorm", None),
                                        ("asnorm", 5), ("asnorm", None), ("znorm", 7)])
def test_matches_direct(mode, top_n):
    r = np.random.default_rng(0)
    e, t, c = (_unit(r.normal(size=(n, 8))).astype(np.float32) for n in (5, 6, 40))
    ei = r.integers(0, 5, 30)
    ti = r.integers(0, 6, 30)
    raw = np.einsum("ij,ij->i", e[ei], t[ti])
    got = normalize_scores(raw, ei, ti, e, t, c, mode, top_n)
    eff = 300 if (mode == "asnorm" and top_n is None) else top_n
    want = _direct(e, t, c, ei, ti, mode, eff if eff is not None else 40)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_asnorm_with_whole_cohort_is_snorm():
    r = np.random.default_rng(1)
    e, c = _unit(r.normal(size=(4, 6))), _unit(r.normal(size=(10, 6)))
    ei, ti = np.array([0, 1, 2]), np.array([3, 2, 0])
    raw = np.einsum("ij,ij->i", e[ei], e[ti])
    a = normalize_scores(raw, ei, ti, e, e, c, "asnorm", 10)
    s = normalize_scores(raw, ei, ti, e, e, c, "snorm")
    np.testing.assert_allclose(a, s)


def test_cohort_dimension_mismatch():
    e = np.eye(3, 4, dtype=np.float32)
    c = np.eye(3, 5, dtype=np.float32)
    with pytest.raises(SeedkitError, match="cohort embeddings have dimension 5"):
        normalize_scores(np.zeros(1), np.array([0]), np.array([1]), e, e, c, "asnorm")
