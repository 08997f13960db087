"""EER / minDCF against tests/data/reference/metrics.json (exact, ties included) and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_reference

from seedkit.errors import SeedkitError
from seedkit.scoring.metrics import (
    compute_eer,
    compute_min_dcf,
    det_curve,
    eer_point,
    min_dcf_point,
    roc_points,
    summarize,
)


def _cases():
    ref = load_reference("metrics.json")
    return [("full", ref), ("small", ref["small_case"])]


@pytest.mark.parametrize("name,case", _cases())
def test_reference_values_exact(name, case):
    s = np.array(case["scores"])
    lab = np.array(case["labels"])
    assert compute_eer(s, lab) == pytest.approx(case["expected_eer_percent"], rel=1e-12)
    for p in ("0.05", "0.01"):
        value, thr = min_dcf_point(s, lab, float(p))
        assert value == pytest.approx(case[f"expected_mindcf_p{p}"], rel=1e-12)
        assert thr == case[f"threshold_p{p}"]
        assert compute_min_dcf(s, lab, float(p)) == value


@pytest.mark.parametrize("name,case", _cases())
def test_roc_has_sklearn_shape(name, case):
    s = np.array(case["scores"])
    lab = np.array(case["labels"])
    fpr, tpr, thr = roc_points(s, lab)
    assert len(fpr) == case["eer_point"]["roc_len"]
    assert np.isinf(thr[0])
    eer, f, n, _ = eer_point(s, lab)
    assert f == pytest.approx(case["eer_point"]["fpr"], rel=1e-12)
    assert n == pytest.approx(case["eer_point"]["fnr"], rel=1e-12)


def test_dropping_intermediate_points_matters():
    """Without dropping collinear ROC points the EER would differ: the rule is really exercised."""
    ref = load_reference("metrics.json")
    s, lab = np.array(ref["scores"]), np.array(ref["labels"])
    fpr, fnr = det_curve(s, lab)  # every distinct threshold, nothing dropped
    i = int(np.argmin(np.abs(fnr - fpr)))
    assert max(fpr[i], fnr[i]) * 100 == pytest.approx(
        ref["info_eer_percent_if_roc_curve_drop_intermediate_False"], rel=1e-12)
    assert compute_eer(s, lab) != pytest.approx(max(fpr[i], fnr[i]) * 100)


def test_order_and_dtype_invariance():
    ref = load_reference("metrics.json")
    s, lab = np.array(ref["scores"]), np.array(ref["labels"])
    perm = np.random.default_rng(1).permutation(s.size)
    # EER does not depend on the trial order; minDCF of this data set does not either
    assert compute_eer(s[perm], lab[perm].astype(bool)) == compute_eer(s, lab)
    assert compute_min_dcf(list(s), list(lab), 0.05) == compute_min_dcf(s, lab, 0.05)


def test_perfect_and_inverted_separation():
    s = np.array([0.9, 0.8, 0.1, 0.2])
    lab = np.array([1, 1, 0, 0])
    assert compute_eer(s, lab) == 0.0
    assert compute_min_dcf(s, lab, 0.01) == 0.0
    assert compute_eer(-s, lab) == 100.0


def test_summarize_fields():
    ref = load_reference("metrics.json")
    out = summarize(ref["scores"], ref["labels"], (0.01, 0.05))
    assert out["num_trials"] == 2000 and out["num_target"] == 813
    assert out["min_dcf"]["0.05"]["value"] == pytest.approx(ref["expected_mindcf_p0.05"])
    assert out["eer_percent"] == pytest.approx(ref["expected_eer_percent"])


@pytest.mark.parametrize("scores,labels,msg", [
    ([0.1, 0.2], [1, 1], "all 2 trials are target"),
    ([0.1, 0.2], [0, 0], "all 2 trials are nontarget"),
    ([0.1, float("nan")], [1, 0], "NaN or infinite"),
    ([], [], "empty"),
    ([0.1, 0.2], [1, 0, 1], "2 scores but 3 labels"),
    ([0.1, 0.2], [1, 2], "0/1"),
])
def test_bad_input_refused(scores, labels, msg):
    with pytest.raises(SeedkitError, match=msg):
        compute_eer(np.array(scores), np.array(labels))
    with pytest.raises(SeedkitError, match=msg):
        compute_min_dcf(np.array(scores), np.array(labels), 0.01)


def test_bad_p_target():
    with pytest.raises(SeedkitError, match="p_target"):
        compute_min_dcf([0.1, 0.2], [1, 0], 1.5)
