"""cosine_scores contract (H4 uses it) and missing keys / dimension errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from seedkit.data.trials import Trial
from seedkit.errors import SeedkitError
from seedkit.scoring.cosine import cosine_scores


def _emb(n=6, d=8, seed=0):
    r = np.random.default_rng(seed)
    return {f"u{i}": r.normal(size=d).astype(np.float32) for i in range(n)}


def _ref(a, b, m=None):
    a, b = a.astype(np.float64), b.astype(np.float64)
    if m is not None:
        a, b = a - m, b - m
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


def test_matches_direct_formula_in_trial_order():
    e = _emb()
    trials = [Trial("u0", "u1", True), Trial("u3", "u2", False), Trial("u0", "u0", True)]
    got = cosine_scores(trials, e, e)
    want = [_ref(e[t.enroll], e[t.test]) for t in trials]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert got[2] == pytest.approx(1.0, abs=1e-6)
    # tuples, separate dicts, tiny chunks give the same numbers
    e2 = dict(e)
    got2 = cosine_scores([(t.enroll, t.test) for t in trials], e, e2, chunk=1)
    np.testing.assert_allclose(got2, got, rtol=0, atol=1e-7)


def test_mean_subtraction():
    e = _emb()
    m = np.mean(np.stack(list(e.values())), axis=0)
    got = cosine_scores([("u0", "u1")], e, e, mean=m)
    assert got[0] == pytest.approx(_ref(e["u0"], e["u1"], m), abs=1e-6)


def test_missing_keys_error_lists_count_and_first_five():
    e = _emb()
    trials = [(f"x{i}", "u1") for i in range(7)] + [("u0", "y")]
    with pytest.raises(SeedkitError) as err:
        cosine_scores(trials, e, e)
    msg = str(err.value)
    assert "8 of 8 trials cannot be scored" in msg
    assert "7 enroll key(s)" in msg and "x0, x1, x2, x3, x4)" in msg and "x5" not in msg
    assert "1 test key(s)" in msg and msg.endswith("or pass skip_missing=True")
    assert err.value.format("p").endswith("or pass --skip-missing")  # a command's ERROR line


def test_skip_missing_logs_count(caplog):
    e = _emb()
    with caplog.at_level(logging.WARNING):
        got = cosine_scores([("u0", "u1"), ("zz", "u1"), ("u2", "u3")], e, e, skip_missing=True)
    assert got.shape == (2,)
    assert "1 of 3 trials cannot be scored" in caplog.text


def test_dimension_mismatch_between_sides():
    with pytest.raises(SeedkitError, match="dimension 8 but test embeddings .* have 16"):
        cosine_scores([("u0", "u1")], _emb(d=8), _emb(d=16))


def test_matrices_refused_with_hint():
    e = {k: np.stack([v, v]) for k, v in _emb().items()}
    with pytest.raises(SeedkitError, match="method='cosine' needs one vector per utterance "
                       r"\(use method='seed' or seed-cosine") as err:
        cosine_scores([("u0", "u1")], e, e)
    assert "; --method cosine needs one vector per utterance (use --method seed or" in \
        err.value.format("p")
