"""The metrics' one shared sort: ``stable_argsort`` is numpy's stable argsort, whatever the ties."""

from __future__ import annotations

import numpy as np
import pytest

from seedkit.scoring.metrics import stable_argsort


@pytest.mark.parametrize("kind", ["distinct", "few_ties", "mostly_ties", "all_equal", "float32"])
def test_stable_argsort_is_numpys_stable_argsort(kind):
    r = np.random.default_rng(7)
    n = 50_000
    s = {
        "distinct": r.normal(size=n),
        "few_ties": np.where(r.random(n) < 0.05, 0.25, r.normal(size=n)),
        "mostly_ties": np.round(r.normal(size=n), 1),
        "all_equal": np.zeros(n),
        "float32": r.normal(size=n).astype(np.float32).astype(np.float64),
    }[kind]
    got = stable_argsort(s)
    np.testing.assert_array_equal(got, np.argsort(s, kind="stable"))


def test_tie_order_is_index_order():
    s = np.array([0.5, 0.1, 0.5, 0.1, 0.5, 0.3])
    assert stable_argsort(s).tolist() == [1, 3, 5, 0, 2, 4]


def _sklearn_roc(scores, labels):
    """sklearn's roc_curve(drop_intermediate=True), written from its documented steps."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order].astype(np.int64)
    idx = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    thr = s[idx]
    keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
    tps, fps, thr = np.r_[0, tps[keep]], np.r_[0, fps[keep]], np.r_[np.inf, thr[keep]]
    return fps / fps[-1], tps / tps[-1], thr


@pytest.mark.parametrize("ties", ["none", "within_class", "across_classes", "few_across",
                                  "few_across_float32", "signed_zeros"])
def test_one_sort_gives_the_stable_sort_and_sklearns_roc(ties, monkeypatch):
    import seedkit.scoring.metrics as metrics
    from seedkit.scoring.metrics import SortedTrials, roc_points

    if ties.startswith("few_across"):  # must not need the index sort
        monkeypatch.setattr(metrics, "stable_argsort", lambda s: pytest.fail("index sort"))

    r = np.random.default_rng(3)
    n = 20_000
    lab = r.random(n) < 0.2
    s = r.normal(size=n) + lab
    if ties == "within_class":
        s[lab & (r.random(n) < 0.3)] = 1.5  # many targets share one score, no non-target has it
        s[~lab & (r.random(n) < 0.3)] = -0.5
    elif ties == "across_classes":
        s = np.round(s, 2)
    elif ties in ("few_across", "few_across_float32"):
        # a few runs of equal scores holding both classes, the rest distinct: only those runs
        # are reordered (the others come from the two value sorts)
        tar, non = np.flatnonzero(lab), np.flatnonzero(~lab)
        for k in range(40):
            group = np.r_[r.choice(tar, 1 + k % 3), r.choice(non, 1 + k % 4)]
            s[group] = s[group[0]]
        if ties == "few_across_float32":
            s = s.astype(np.float32)
    elif ties == "signed_zeros":
        s[r.random(n) < 0.05] = 0.0
        s[r.random(n) < 0.05] = -0.0
    st = SortedTrials.of(s, lab)
    order = np.argsort(s, kind="stable")
    np.testing.assert_array_equal(st.scores, s[order])
    np.testing.assert_array_equal(st.labels, lab[order].astype(np.int64))
    s = s.astype(np.float64)
    for got, want in zip(roc_points(s, lab), _sklearn_roc(s, lab)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(6))
def test_min_dcf_candidates_give_the_full_scan(seed):
    """minDCF read at the candidate positions only equals the scan of every position (value and
    threshold), whatever the ties, priors and costs."""
    from seedkit.scoring.metrics import SortedTrials, _error_rates, _min_dcf_from_rates

    r = np.random.default_rng(seed)
    n = 3000
    lab = r.random(n) < [0.5, 0.05, 0.01, 0.3, 0.9, 0.002][seed]
    lab[:2] = [True, False]
    s = np.round(r.normal(size=n) + lab, [6, 1, 3, 0, 2, 4][seed])
    st = SortedTrials.of(s, lab)
    for p in (0.001, 0.01, 0.05, 0.5, 0.99):
        for c_miss, c_fa in ((1.0, 1.0), (10.0, 1.0), (1.0, 0.1)):
            fast = _min_dcf_from_rates(*_error_rates(st), p, c_miss, c_fa)
            full = _min_dcf_from_rates(*_error_rates(st, candidates=False), p, c_miss, c_fa)
            assert fast == full
