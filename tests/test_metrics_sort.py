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
