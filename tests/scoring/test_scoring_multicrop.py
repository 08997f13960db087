"""SEED multi-crop protocol against metrics.json trial_score, and mean crop cosine."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_reference

from seedkit.scoring.multicrop import mean_cosine_scores, seed_scores


def _fixture():
    ref = load_reference("metrics.json")["trial_score"]
    return ref, np.array(ref["enroll"], np.float32), np.array(ref["test"], np.float32)


def _seed_ref(e, t):
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    return -np.linalg.norm(e[:, None, :] - t[None, :, :], axis=2).mean()


def test_trial_score_matches_reference():
    ref, e, t = _fixture()
    got = seed_scores([("e", "t")], {"e": e}, {"t": t})
    assert got[0] == pytest.approx(ref["expected_score"], rel=1e-6, abs=1e-7)
    # and it is not the mean cosine, which is a separate method
    mc = mean_cosine_scores([("e", "t")], {"e": e}, {"t": t})
    assert mc[0] == pytest.approx(ref["info_mean_cosine"], rel=1e-5)
    assert abs(mc[0] - got[0]) > 0.1


def test_distance_matrix_of_reference():
    ref, e, t = _fixture()
    e64 = e / np.linalg.norm(e, axis=1, keepdims=True)
    t64 = t / np.linalg.norm(t, axis=1, keepdims=True)
    d = np.linalg.norm(e64[:, None] - t64[None], axis=2)
    np.testing.assert_allclose(d, np.array(ref["distances_10x10"]), rtol=1e-5, atol=1e-6)


def test_vectorised_over_many_trials_and_mixed_crop_counts():
    r = np.random.default_rng(3)
    emb = {f"u{i}": r.normal(size=(1 + i % 3 * 4, 6)).astype(np.float32) for i in range(9)}
    trials = [(f"u{a}", f"u{b}") for a in range(9) for b in range(9)]
    got = seed_scores(trials, emb, emb, chunk=7)
    want = [_seed_ref(emb[a], emb[b]) for a, b in trials]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # identical crops: the distance of an utterance to itself is only the within-crop spread
    same = seed_scores([("u0", "u0")], emb, emb)[0]
    assert same == pytest.approx(0.0, abs=1e-4)  # u0 has a single crop
    mc = mean_cosine_scores(trials, emb, emb)
    want_mc = []
    for a, b in trials:
        ea = emb[a] / np.linalg.norm(emb[a], axis=1, keepdims=True)
        eb = emb[b] / np.linalg.norm(emb[b], axis=1, keepdims=True)
        want_mc.append((ea @ eb.T).mean())
    np.testing.assert_allclose(mc, want_mc, rtol=1e-5, atol=1e-6)


def test_vectors_are_one_crop_matrices():
    r = np.random.default_rng(4)
    v = {k: r.normal(size=5).astype(np.float32) for k in "ab"}
    got = seed_scores([("a", "b")], v, v)[0]
    a, b = (v[k] / np.linalg.norm(v[k]) for k in "ab")
    assert got == pytest.approx(-np.linalg.norm(a - b), rel=1e-6)


def _flat(emb):
    from seedkit.scoring.index import EmbeddingSet
    from seedkit.scoring.multicrop import _FlatCrops

    return _FlatCrops(EmbeddingSet.from_dict(emb), None)


def test_grouped_and_batched_paths_agree_with_direct_float64():
    """Both strategies, mixed crop counts, and near-identical crops (the refined case)."""
    from seedkit.scoring.multicrop import _seed_batched, _seed_grouped

    r = np.random.default_rng(5)
    base = r.normal(size=(12, 16))
    emb = {}
    for i in range(12):
        n = 2 + i % 3
        # crops of a key differ by tiny noise: distances near 0 where float32 Gram is inexact
        emb[f"u{i}"] = (base[i % 4] + 1e-4 * r.normal(size=(n, 16))).astype(np.float32)
    flat = _flat(emb)
    ei = r.integers(0, 12, 60)
    ti = r.integers(0, 12, 60)
    want = np.array([_seed_ref(emb[f"u{a}"].astype(np.float64), emb[f"u{b}"].astype(np.float64))
                     for a, b in zip(ei, ti)])
    for run in (lambda o: _seed_grouped(flat, flat, ei, ti, o),
                lambda o: _seed_grouped(flat, flat, ti, ei, o),
                lambda o: _seed_batched(flat, flat, ei, ti, o, 5)):
        out = np.empty(60)
        run(out)
        np.testing.assert_allclose(out, want, rtol=0, atol=2e-7)
    assert np.abs(want).min() < 1e-3  # the near-zero case really occurs


@pytest.mark.parametrize("same_side", [True, False])
def test_only_the_keys_of_the_trials_are_normalised(monkeypatch, same_side):
    import seedkit.scoring.multicrop as mc

    rng = np.random.default_rng(4)
    table = {f"k{i}": rng.normal(size=(1 + i % 3, 8)).astype(np.float32) for i in range(40)}
    trials = [("k3", "k7"), ("k7", "k30"), ("k3", "k3")]
    enroll = table
    test = table if same_side else dict(table)
    expected = [_seed_ref(table[a], table[b]) for a, b in trials]
    expected_mc = [float(np.mean(mc.l2_normalize(table[a]).mean(0) @ mc.l2_normalize(table[b])
                                 .mean(0))) for a, b in trials]
    rows_seen = []
    real = mc.l2_normalize
    monkeypatch.setattr(mc, "l2_normalize", lambda x, *a, **k: rows_seen.append(x.shape[0])
                        or real(x, *a, **k))
    np.testing.assert_allclose(seed_scores(trials, enroll, test), expected, rtol=1e-6,
                               atol=1e-6)
    used = {"k3", "k7", "k30"} if same_side else {"k3", "k7"}
    n_rows = sum(table[k].shape[0] for k in used)
    if same_side:
        assert rows_seen == [n_rows]  # k3, k7, k30: one side, normalised once
    else:
        assert rows_seen == [n_rows, sum(table[k].shape[0] for k in ("k7", "k30", "k3"))]
    rows_seen.clear()
    np.testing.assert_allclose(mean_cosine_scores(trials, enroll, test), expected_mc,
                               rtol=1e-5, atol=1e-6)
    assert sum(rows_seen) == (n_rows if same_side else n_rows + table["k30"].shape[0]
                              + table["k7"].shape[0] + table["k3"].shape[0])
