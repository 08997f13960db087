"""PLDA: LLR against closed forms, EM behaviour, LDA, model files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal as mvn

from seedkit.errors import SeedkitError
from seedkit.scoring.plda import (
    PLDA,
    PLDABackend,
    compute_lda,
    load_plda,
    save_plda,
    train_plda,
    train_plda_backend,
)


def _random_model(d=3, seed=0):
    r = np.random.default_rng(seed)
    a, b = r.normal(size=(d, d)), r.normal(size=(d, d))
    return PLDA(r.normal(size=d), a @ a.T + 0.5 * np.eye(d), 0.3 * b @ b.T + 0.2 * np.eye(d)), r


def test_llr_scalar_closed_form():
    """Phi_b = Phi_w = 1, mu = 0: LLR(1, 1) = -1/6 + 1/3 + log 2 - log(3)/2."""
    m = PLDA(np.zeros(1), np.eye(1), np.eye(1))
    got = m.llr(np.array([[1.0]]), np.array([[1.0]]))[0]
    assert got == pytest.approx(1 / 6 + np.log(2) - 0.5 * np.log(3), rel=1e-12)


def test_llr_equals_gaussian_ratio():
    m, r = _random_model()
    x1, x2 = r.normal(size=(5, 3)), r.normal(size=(5, 3))
    pt = m.phi_b + m.phi_w
    joint = mvn(np.r_[m.mu, m.mu], np.block([[pt, m.phi_b], [m.phi_b, pt]]))
    want = [joint.logpdf(np.r_[a, b]) - mvn(m.mu, pt).logpdf(a) - mvn(m.mu, pt).logpdf(b)
            for a, b in zip(x1, x2)]
    np.testing.assert_allclose(m.llr(x1, x2), want, rtol=1e-9, atol=1e-9)
    # the backend's per-key / chunked path gives the same numbers
    be = PLDABackend(np.zeros(3), None, False, m)
    got = be.score_pairs(x1, np.arange(5), x2, np.arange(5), chunk=2)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_log_likelihood_equals_dense_marginal():
    m, r = _random_model(d=2, seed=1)
    x = r.normal(size=(5, 2))
    spk = np.array([0, 0, 0, 1, 1])
    want = 0.0
    for s in (0, 1):
        xs = x[spk == s]
        n = xs.shape[0]
        cov = np.kron(np.ones((n, n)), m.phi_b) + np.kron(np.eye(n), m.phi_w)
        want += mvn(np.tile(m.mu, n), cov).logpdf(xs.reshape(-1))
    assert m.log_likelihood(x, spk) == pytest.approx(want, rel=1e-10)


def test_em_increases_likelihood_and_recovers_parameters():
    true, r = _random_model(d=3, seed=2)
    n_spk, n_utt = 2000, 6
    y = true.mu + r.normal(size=(n_spk, 3)) @ np.linalg.cholesky(true.phi_b).T
    x = np.repeat(y, n_utt, 0) + r.normal(size=(n_spk * n_utt, 3)) @ np.linalg.cholesky(
        true.phi_w).T
    spk = np.repeat(np.arange(n_spk), n_utt)
    hist: list[float] = []
    est = train_plda(x, spk, n_iter=8, history=hist)
    assert np.all(np.diff(hist) >= -1e-6)
    assert hist[-1] >= true.log_likelihood(x, spk)  # maximum likelihood beats the truth
    np.testing.assert_allclose(est.phi_w, true.phi_w, atol=0.05 * np.abs(true.phi_w).max())
    np.testing.assert_allclose(est.phi_b, true.phi_b, atol=0.1 * np.abs(true.phi_b).max())


def test_em_handles_unequal_speaker_sizes():
    r = np.random.default_rng(5)
    spk = np.repeat(np.arange(30), r.integers(2, 7, 30))
    x = r.normal(size=(30, 4))[spk] + 0.5 * r.normal(size=(spk.size, 4))
    hist: list[float] = []
    train_plda(x, spk, n_iter=5, history=hist)
    assert np.all(np.diff(hist) >= -1e-6)


def test_lda_whitens_within_and_finds_discriminant():
    r = np.random.default_rng(6)
    spk = np.repeat(np.arange(50), 5)
    centers = np.zeros((50, 5))
    centers[:, 2] = 3 * r.normal(size=50)  # only dim 2 separates speakers
    x = centers[spk] + r.normal(size=(spk.size, 5))
    p = compute_lda(x - x.mean(0), spk, 1)
    assert abs(p[2, 0]) / np.abs(p[:, 0]).max() == pytest.approx(1.0)
    dev = x - np.array([x[spk == s].mean(0) for s in range(50)])[spk]
    sw = dev.T @ dev / x.shape[0]
    assert float((p.T @ sw @ p)[0, 0]) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(SeedkitError, match="between 1 and the embedding dimension 5"):
        compute_lda(x, spk, 6)
    few = spk < 3  # 3 speakers: at most 2 LDA dimensions
    with pytest.raises(SeedkitError, match="needs at least 4 speakers"):
        compute_lda(x[few], spk[few], 3)


def test_backend_roundtrip_and_dimension_check(tmp_path):
    r = np.random.default_rng(7)
    spk = np.repeat(np.arange(12), 4)
    x = r.normal(size=(12, 8))[spk] + 0.3 * r.normal(size=(48, 8))
    be = train_plda_backend(x, spk, lda_dim=4)
    save_plda(be, tmp_path / "plda")
    back = load_plda(tmp_path / "plda")
    idx = np.arange(10)
    np.testing.assert_array_equal(back.score_pairs(x, idx, x, idx[::-1]),
                                  be.score_pairs(x, idx, x, idx[::-1]))
    with pytest.raises(SeedkitError, match="dimension 6 but the PLDA model was trained on "
                                           "dimension 8"):
        back.score_pairs(x[:, :6], idx, x[:, :6], idx)
    (tmp_path / "junk").write_text("not a model")
    with pytest.raises(SeedkitError, match="not a seedkit PLDA model"):
        load_plda(tmp_path / "junk")
