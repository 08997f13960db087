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


# --------------------------------------------------------------------------------------------
# the whole back end against an independent computation


def _speaker_data(r, n_spk, dim, lo, hi):
    """Speaker means on a 5-dimensional subspace, within-speaker noise, a strong nuisance
    direction shared by all speakers, and a per-utterance scale (norms from 0.4x to 2.5x) that
    only length normalisation removes."""
    basis = np.linalg.qr(np.random.default_rng(99).normal(size=(dim, dim)))[0]
    centers = 2.0 * r.normal(size=(n_spk, 5)) @ basis[:, :5].T
    spk = np.repeat(np.arange(n_spk), r.integers(lo, hi + 1, n_spk))
    nuisance = 3.0 * r.normal(size=(spk.size, 1)) * basis[:, 5]
    x = centers[spk] + 0.8 * r.normal(size=(spk.size, dim)) + nuisance + 1.5
    x *= np.exp(r.uniform(np.log(0.4), np.log(2.5), size=(spk.size, 1)))
    return x, spk


def _ref_lda(x, spk, dim):
    """Between / within scatter matrices and their generalised eigenvectors (scipy eigh)."""
    import scipy.linalg  # noqa: PLC0415

    m = x.mean(axis=0)
    sw = np.zeros((x.shape[1], x.shape[1]))
    sb = np.zeros_like(sw)
    for s in np.unique(spk):
        xs = x[spk == s]
        ms = xs.mean(axis=0)
        sw += (xs - ms).T @ (xs - ms)
        sb += xs.shape[0] * np.outer(ms - m, ms - m)
    evals, evecs = scipy.linalg.eigh(sb / x.shape[0], sw / x.shape[0])
    order = np.argsort(evals)[::-1][:dim]
    return evecs[:, order]


def _ref_em(y, spk, n_iter):
    """Two-covariance PLDA by EM, one speaker at a time (Sizov et al. 2014, as documented)."""
    speakers = [y[spk == s] for s in np.unique(spk)]
    n, d = y.shape
    mu = y.mean(axis=0)
    means = np.array([ys.mean(axis=0) for ys in speakers])
    phi_w = sum((ys - ys.mean(0)).T @ (ys - ys.mean(0)) for ys in speakers) / n
    phi_b = np.cov(means.T, bias=True)
    for _ in range(n_iter):
        b_inv, w_inv = np.linalg.inv(phi_b), np.linalg.inv(phi_w)
        ey, rs = [], []
        for ys in speakers:
            cov = np.linalg.inv(b_inv + ys.shape[0] * w_inv)
            e = cov @ (b_inv @ mu + w_inv @ ys.sum(axis=0))
            ey.append(e)
            rs.append(np.outer(e, e) + cov)
        mu = np.mean(ey, axis=0)
        phi_b = np.mean(rs, axis=0) - np.outer(mu, mu)
        acc = y.T @ y
        for ys, e, rr in zip(speakers, ey, rs):
            f = ys.sum(axis=0)
            acc += -np.outer(f, e) - np.outer(e, f) + ys.shape[0] * rr
        phi_w = acc / n
    return mu, phi_b, phi_w


def _ref_llr(mu, phi_b, phi_w, y1, y2):
    """Closed-form two-covariance LLR with full matrices (no diagonalisation):
    0.5 x1'Qx1 + 0.5 x2'Qx2 + x1'Px2 + c, the joint Gaussian's inverse in block form."""
    tot = phi_b + phi_w
    t_inv = np.linalg.inv(tot)
    schur_inv = np.linalg.inv(tot - phi_b @ t_inv @ phi_b)
    q = t_inv - schur_inv
    p = t_inv @ phi_b @ schur_inv
    joint = np.block([[tot, phi_b], [phi_b, tot]])
    c = -0.5 * np.linalg.slogdet(joint)[1] + np.linalg.slogdet(tot)[1]
    a, b = y1 - mu, y2 - mu
    return (0.5 * np.einsum("ij,jk,ik->i", a, q, a) + 0.5 * np.einsum("ij,jk,ik->i", b, q, b)
            + np.einsum("ij,jk,ik->i", a, p, b) + c)


@pytest.mark.parametrize("n_iter", [10, 100])
def test_backend_equals_independent_computation(n_iter, capsys):
    r = np.random.default_rng(12)
    x, spk = _speaker_data(r, 60, 12, 3, 8)
    ev, ev_spk = _speaker_data(r, 20, 12, 4, 4)
    lda_dim = 6
    i1, i2 = r.integers(0, ev.shape[0], 400), r.integers(0, ev.shape[0], 400)
    i1[:80] = np.arange(80)  # 80 target trials: each utterance against its speaker's next one
    i2[:80] = [int(np.flatnonzero(ev_spk == ev_spk[i])[(i % 4 + 1) % 4]) for i in range(80)]

    be = train_plda_backend(x, spk, lda_dim=lda_dim, length_norm=True, n_iter=n_iter)
    got = be.score_pairs(ev, i1, ev, i2)

    mean = x.mean(axis=0)
    lda = _ref_lda(x - mean, spk, lda_dim)
    lda *= np.sign(np.sum(lda * be.lda, axis=0))  # eigenvector signs are arbitrary
    y = (x - mean) @ lda
    y = y * np.sqrt(lda_dim) / np.linalg.norm(y, axis=1, keepdims=True)
    mu, phi_b, phi_w = _ref_em(y, spk, n_iter)
    ye = (ev - mean) @ lda
    ye = ye * np.sqrt(lda_dim) / np.linalg.norm(ye, axis=1, keepdims=True)
    want = _ref_llr(mu, phi_b, phi_w, ye[i1], ye[i2])

    diffs = {"mean": np.abs(be.mean - mean).max(),
             "lda": np.abs(be.lda - lda).max() / np.abs(lda).max(),
             "transform": np.abs(be.transform(x) - y).max(),
             "mu": np.abs(be.plda.mu - mu).max(),
             "phi_b": np.abs(be.plda.phi_b - phi_b).max() / np.abs(phi_b).max(),
             "phi_w": np.abs(be.plda.phi_w - phi_w).max() / np.abs(phi_w).max(),
             "llr": np.abs(got - want).max()}
    with capsys.disabled():
        print(f"\nPLDA back end vs independent ({n_iter} EM iterations; lda/phi relative): "
              + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
              + f"; LLR std {np.std(want):.2f}")
    assert diffs["mean"] < 1e-12
    # seedkit adds a ridge of 1e-6 x the mean diagonal to S_w (and to the EM start), 1e-12 after
    # every EM step: relative differences of that order are expected, nothing larger
    for k in ("lda", "transform", "mu", "phi_b", "phi_w"):
        assert diffs[k] < 2e-5, k
    spread = float(np.std(want))
    assert diffs["llr"] < 2e-5 * spread

    # the data make every stage matter: without LDA or without length norm the scores differ
    # by far more than the tolerance
    target = ev_spk[i1] == ev_spk[i2]
    for kw in ({"lda_dim": None, "length_norm": True}, {"lda_dim": lda_dim, "length_norm": False}):
        other = train_plda_backend(x, spk, n_iter=n_iter, **kw).score_pairs(ev, i1, ev, i2)
        assert np.abs(other - got).max() > 0.2 * spread, kw
        assert np.abs(np.corrcoef(other, got)[0, 1]) < 0.999, kw
    assert target.sum() >= 80 and (~target).sum() >= 200
