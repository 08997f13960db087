"""Confidence intervals of EER / minDCF (seedkit.scoring.bootstrap, seedkit-metrics --ci).

* every resample's metrics equal those of the resampled trial list written out (each trial
  repeated by its weight), for both units;
* a simulation with known score distributions (Gaussian scores with per-speaker offsets): the
  speaker bootstrap's 95% interval covers the true EER in about 95% of independent simulations,
  is as wide as the spread of the EER across them, and a trial-level bootstrap (the wrong unit)
  is narrower and covers far less;
* the paired comparison, determinism, binning of large lists;
* seedkit-metrics --ci / --compare: the output lines, the JSON, one ERROR line per bad input.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import REPO

from seedkit.bin import metrics as metrics_bin
from seedkit.errors import SeedkitError, run_main
from seedkit.scoring.bootstrap import (
    Clusters,
    bootstrap_ci,
    compare_systems,
    model_segment_clusters,
    replicates,
    speaker_clusters,
    speaker_from_key,
)
from seedkit.scoring.metrics import compute_min_dcf, summarize

sys.path.insert(0, str(REPO / "benchmarks"))
# the simulations (known score distributions) are benchmarks/bench_bootstrap.py's, whose
# --coverage prints this test's numbers
from bench_bootstrap import simulations, true_eer  # noqa: E402


def _toy(rng, n_spk=12, per=4, round_to=None):
    """All pairs of ``per`` utterances of ``n_spk`` speakers; keys ``sNN-uK``."""
    utts = [f"s{s:02d}-u{u}" for s in range(n_spk) for u in range(per)]
    ea, eb = np.triu_indices(len(utts), 1)
    enroll, test = [utts[i] for i in ea], [utts[i] for i in eb]
    tar = np.array([e[:3] == t[:3] for e, t in zip(enroll, test)])
    s = rng.normal(size=tar.size) + 2.0 * tar
    if round_to:
        s = np.round(s, round_to)  # ties, within and across classes
    return enroll, test, tar, s


def _rates(s: np.ndarray, tar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fnr, fpr) brute force at every threshold between distinct scores, rejecting nothing
    first: a trial is accepted when its score is above the highest rejected score."""
    uniq = np.unique(s)
    fnr = np.r_[0.0, [(s[tar] <= t).mean() for t in uniq]]
    fpr = np.r_[1.0, [(s[~tar] > t).mean() for t in uniq]]
    return fnr, fpr


def _eer_all_points(s: np.ndarray, tar: np.ndarray) -> float:
    """EER by the bootstrap's rule: max(fnr, fpr) at the first minimum of |fnr - fpr|."""
    fnr, fpr = _rates(s, tar)
    i = int(np.argmin(np.abs(fnr - fpr)))
    return 100 * max(fnr[i], fpr[i])


def _min_dcf_thresholds(s: np.ndarray, tar: np.ndarray, p: float) -> float:
    """minDCF over the thresholds between distinct scores (the reference also looks inside runs
    of equal scores; without ties the two agree)."""
    fnr, fpr = _rates(s, tar)
    return float(np.min(p * fnr + (1 - p) * fpr) / min(p, 1 - p))


@pytest.mark.parametrize("unit", ["speaker", "model-segment"])
def test_each_resample_equals_the_written_out_resample(unit):
    rng = np.random.default_rng(3)
    enroll, test, tar, s = _toy(rng, round_to=1)
    if unit == "speaker":
        cl = speaker_clusters(enroll, test, {k: k[:3] for k in set(enroll) | set(test)})
    else:
        cl = model_segment_clusters(enroll, test)
    n, seed = 20, 11
    (rep,) = replicates([s], tar, cl, p_targets=(0.01, 0.05), n=n, seed=seed)
    # the documented draws: one multinomial stream per side from SeedSequence(seed).spawn(2)
    rngs = [np.random.default_rng(x) for x in np.random.SeedSequence(seed).spawn(2)]
    m_a = rngs[0].multinomial(cl.n_a, np.full(cl.n_a, 1 / cl.n_a), size=n)
    m_b = m_a if cl.shared else rngs[1].multinomial(cl.n_b, np.full(cl.n_b, 1 / cl.n_b), size=n)
    for r in range(n):
        if cl.shared:
            w = np.where(cl.a == cl.b, m_a[r, cl.a], m_a[r, cl.a] * m_a[r, cl.b])
        else:
            w = m_a[r, cl.a] * m_b[r, cl.b]
        rs, rt = np.repeat(s, w), np.repeat(tar, w)
        assert rep.eer[r] == pytest.approx(_eer_all_points(rs, rt), abs=1e-9)
        for p in (0.01, 0.05):
            assert rep.min_dcf[p][r] == pytest.approx(_min_dcf_thresholds(rs, rt, p), abs=1e-9)


def test_unweighted_metrics_match_the_reference_rules():
    """One resample that draws every speaker once gives back the point estimate (minDCF exactly;
    EER within one target's or non-target's worth: the reference keeps only ROC corners)."""
    rng = np.random.default_rng(4)
    enroll, test, tar, s = _toy(rng, n_spk=20, per=3)
    a = np.arange(tar.size)
    (rep,) = replicates([s], tar, Clusters(a, a, tar.size, tar.size, True), n=400, seed=0)
    point = summarize(s, tar)
    # among 400 trial-level resamples none is the original list; check the rule with weights 1
    from seedkit.scoring import bootstrap as bs  # the internals of one block

    col_a, col_b, n_cols = bs._columns(Clusters(a, a, tar.size, tar.size, True))
    sys_ = bs._prepare(s, tar, col_a, col_b, bs.DEFAULT_MAX_BINS)
    eer, dcf = bs._block_metrics(sys_, np.ones((n_cols, 1), dtype=np.int32), (0.01, 0.05), 1, 1)
    step = 100 / min(tar.sum(), (~tar).sum())
    assert abs(eer[0] - point["eer_percent"]) <= step
    assert len(np.unique(s)) == s.size  # no ties: the reference's minDCF rule is the same
    assert dcf[0, 0] == pytest.approx(point["min_dcf"]["0.01"]["value"], abs=1e-12)
    assert dcf[1, 0] == pytest.approx(compute_min_dcf(s, tar, 0.05), abs=1e-12)
    assert rep.num_invalid == 0 and np.all((rep.eer >= 0) & (rep.eer <= 100))


def test_simulation_coverage_and_width():
    """100 independent simulations (40 speakers, 1,200 trials each, 240 target), 200 resamples
    each: the speaker bootstrap's 95% interval holds the true EER in 93 of them (measured), the
    trial-level one in 70; widths 8.8 vs 4.5 points, against 9.0 for 2 x 1.96 x the standard
    deviation of the EER over the simulations."""
    truth = true_eer()
    assert truth == pytest.approx(12.356, abs=1e-3)
    n_sims = 100
    cover, width, estimates = simulations(n_sims)
    spread = 2 * 1.96 * float(np.std(estimates))
    assert abs(np.mean(estimates) - truth) < 0.5  # the simulation is what we think it is
    assert 0.88 <= cover["speaker"] / n_sims <= 1.0, cover
    assert cover["trial"] / n_sims <= 0.8, cover  # trials as the unit understate the spread
    assert 0.8 <= np.mean(width["speaker"]) / spread <= 1.25, (width, spread)
    assert np.mean(width["speaker"]) > 1.5 * np.mean(width["trial"])


def test_paired_comparison():
    rng = np.random.default_rng(6)
    enroll, test, tar, s = _toy(rng, n_spk=15, per=4)
    cl = speaker_clusters(enroll, test)  # the keys start with the speaker
    same = compare_systems(s, s, tar, cl, n=100)
    assert same["eer_percent"]["difference"] == 0.0
    assert same["eer_percent"]["interval"] == [0.0, 0.0]
    assert same["eer_percent"]["ties"] == 1.0 and same["eer_percent"]["a_better"] == 0.0
    worse = s + rng.normal(0, 1.5, s.size)
    c = compare_systems(s, worse, tar, cl, p_targets=(0.05,), n=300, seed=2)
    lo, hi = c["eer_percent"]["interval"]
    assert hi < 0 and c["eer_percent"]["a_better"] > 0.99
    assert c["eer_percent"]["difference"] == pytest.approx(
        summarize(s, tar)["eer_percent"] - summarize(worse, tar)["eer_percent"])
    assert c["a"]["eer_percent"] == bootstrap_ci(s, tar, cl, (0.05,), n=300, seed=2)[
        "eer_percent"]  # the same resamples as the single-system intervals
    flipped = compare_systems(worse, s, tar, cl, p_targets=(0.05,), n=300, seed=2)
    assert flipped["eer_percent"]["interval"] == pytest.approx([-hi, -lo])


def test_deterministic_and_seeded():
    rng = np.random.default_rng(7)
    enroll, test, tar, s = _toy(rng)
    cl = speaker_clusters(enroll, test)
    one = bootstrap_ci(s, tar, cl, n=150, seed=1)
    assert bootstrap_ci(s, tar, cl, n=150, seed=1) == one
    assert bootstrap_ci(s, tar, cl, n=150, seed=2) != one
    lo, hi = one["eer_percent"]
    assert lo <= summarize(s, tar)["eer_percent"] <= hi
    assert one["units"] == "12 speakers" and one["invalid_resamples"] == 0


def test_many_distinct_scores_are_binned_closely():
    rng = np.random.default_rng(8)
    enroll, test, tar, s = _toy(rng, n_spk=30, per=5)  # 11,175 trials, all distinct
    cl = speaker_clusters(enroll, test)
    (exact,) = replicates([s], tar, cl, n=50, seed=0)
    (binned,) = replicates([s], tar, cl, n=50, seed=0, max_bins=512)
    # a bin holds ~22 trials: the EER can move by that share of the non-targets (or targets)
    assert np.max(np.abs(exact.eer - binned.eer)) <= 100 * 22 / tar.sum()
    assert not np.array_equal(exact.eer, binned.eer)


def test_speaker_information_is_required():
    assert speaker_from_key("id10270-x6uYqmx31kE-00001") == "id10270"
    with pytest.raises(SeedkitError, match="2 trial key.*first: a-1, b-1.*utt2spk") as err:
        speaker_clusters(["a-1", "c-1"], ["b-1", "c-2"], {"c-1": "c", "c-2": "c"}, "u2s")
    assert err.value.path == "u2s"
    with pytest.raises(SeedkitError, match="1 speaker"):
        speaker_clusters(["a-1"], ["a-2"])
    with pytest.raises(SeedkitError, match=">= 1"):
        replicates([np.array([0.0, 1.0])], np.array([False, True]),
                   Clusters(np.array([0, 1]), np.array([1, 0]), 2, 2, True), n=0)


# --------------------------------------------------------------------------------------------
# seedkit-metrics


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(9)
    enroll, test, tar, s = _toy(rng, n_spk=10, per=4)
    lines = [f"{e} {t} {'target' if y else 'nontarget'}\n" for e, t, y in zip(enroll, test, tar)]
    (tmp_path / "trials").write_text("".join(lines))
    for name, v in (("a", s), ("b", s + rng.normal(0, 1.0, s.size))):
        (tmp_path / name).write_text("".join(f"{e} {t} {x:.6f}\n"
                                             for e, t, x in zip(enroll, test, v)))
    (tmp_path / "utt2spk").write_text("".join(f"{k} {k[:3]}\n" for k in sorted(set(enroll)
                                                                             | set(test))))
    return tmp_path


def _metrics(argv, capsys):
    status = run_main(metrics_bin.main, prog="seedkit-metrics", argv=[str(a) for a in argv])
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def test_cli_ci_and_compare(files, capsys):
    d = files
    status, plain, _ = _metrics([d / "a", d / "trials"], capsys)
    assert status == 0 and len(plain.splitlines()) == 1
    status, out, err = _metrics(["--ci", "95", "--utt2spk", d / "utt2spk", "--bootstrap", "200",
                                 "--json", d / "m.json", d / "a", d / "trials"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == plain.strip()  # the line without --ci, unchanged
    m = json.loads((d / "m.json").read_text())
    lo, hi = m["ci"]["eer_percent"]
    assert lines[1] == (f"95% CI (200 resamples of 10 speakers, seed 0): EER [{lo:.4f}, "
                        f"{hi:.4f}]% minDCF(p=0.01) [{m['ci']['min_dcf']['0.01'][0]:.4f}, "
                        f"{m['ci']['min_dcf']['0.01'][1]:.4f}] minDCF(p=0.05) "
                        f"[{m['ci']['min_dcf']['0.05'][0]:.4f}, "
                        f"{m['ci']['min_dcf']['0.05'][1]:.4f}]")
    assert lo <= m["eer_percent"] <= hi
    # the same intervals from --spk2utt and from --speaker-from-key
    (d / "spk2utt").write_text("".join(f"s{s:02d} " + " ".join(f"s{s:02d}-u{u}" for u in range(4))
                                       + "\n" for s in range(10)))
    for src in (["--spk2utt", d / "spk2utt"], ["--speaker-from-key"]):
        assert _metrics(["--ci", "95", *src, "--bootstrap", "200", d / "a", d / "trials"],
                        capsys)[1] == out
    status, out, err = _metrics(["--ci", "90", "--speaker-from-key", "--compare", d / "b",
                                 "--bootstrap-seed", "3", "--json", d / "c.json", d / "a",
                                 d / "trials"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 5 and lines[2].endswith(f" {d / 'b'}")
    assert lines[4].startswith(f"paired 90% (A = {d / 'a'}, B = {d / 'b'}): EER A-B ")
    c = json.loads((d / "c.json").read_text())["compare"]
    assert c["other"] == str(d / "b") and c["resamples"] == 1000 and c["seed"] == 3
    assert 0.0 <= c["eer_percent"]["a_better"] <= 1.0
    assert "ci" in c["other_metrics"]
    status, out, _ = _metrics(["--ci", "95", "--bootstrap-unit", "model-segment", "--bootstrap",
                               "50", d / "a", d / "trials"], capsys)
    assert status == 0 and "50 resamples of 39 enrollment models x 39 test segments" in out


@pytest.mark.parametrize("args,msg", [
    (["--ci", "100", "--utt2spk", "{d}/utt2spk"], "--ci '100' is outside (0, 100)"),
    (["--ci", "0", "--utt2spk", "{d}/utt2spk"], "--ci '0' is outside (0, 100)"),
    (["--ci", "-5", "--utt2spk", "{d}/utt2spk"], "is outside (0, 100)"),
    (["--ci", "nan", "--utt2spk", "{d}/utt2spk"], "is outside (0, 100)"),
    (["--ci", "x95", "--utt2spk", "{d}/utt2spk"], "--ci 'x95' is not a number"),
    (["--ci", "95"], "--ci resamples speakers and needs each trial's speakers"),
    (["--ci", "95", "--utt2spk", "{d}/utt2spk.part"],
     "{d}/utt2spk.part:0: 8 trial key(s) have no speaker here"),
    (["--ci", "95", "--utt2spk", "{d}/utt2spk", "--bootstrap", "0"], "--bootstrap 0: the number"),
    (["--ci", "95", "--utt2spk", "{d}/utt2spk", "--bootstrap-seed", "-1"], "must be >= 0"),
    (["--ci", "95", "--utt2spk", "{d}/utt2spk", "--speaker-from-key"], "one source of speakers"),
    (["--ci", "95", "--bootstrap-unit", "model-segment", "--utt2spk", "{d}/utt2spk"],
     "--utt2spk: only with --bootstrap-unit speaker"),
    (["--utt2spk", "{d}/utt2spk"], "--utt2spk: only with --ci LEVEL"),
    (["--compare", "{d}/b"], "--compare: only with --ci LEVEL"),
    (["--ci", "95", "--speaker-from-key", "--compare", "{d}/b.short"],
     "{d}/b.short:5: 4 scores for 780 trials"),
    (["--ci", "95", "--utt2spk", "{d}/missing"], "{d}/missing"),
])
def test_cli_bad_input_one_error_line(files, capsys, args, msg):
    d = files
    lines = (d / "utt2spk").read_text().splitlines()
    (d / "utt2spk.part").write_text("\n".join(lines[8:]) + "\n")
    (d / "b.short").write_text("".join((d / "b").read_text().splitlines(True)[:4]))
    status, out, err = _metrics([a.format(d=d) for a in args]
                                + ["--json", d / "out.json", d / "a", d / "trials"], capsys)
    assert status != 0 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("ERROR (seedkit-metrics): ") and msg.format(d=d) in err, err
    assert not (d / "out.json").exists()  # no partial output


# --------------------------------------------------------------------------------------------
# seedkit-results-table with intervals


def test_results_table_shows_intervals_and_paired_differences(files, capsys):
    from seedkit.bin import results_table as results_bin

    d = files
    for name, extra in (("a", []), ("b", ["--compare", d / "a"])):
        (d / "res" / name / "set1").mkdir(parents=True)
        assert _metrics(["--ci", "95", "--bootstrap", "100", "--speaker-from-key", *extra,
                         "--json", d / "res" / name / "set1" / "metrics.json", d / name,
                         d / "trials"], capsys)[0] == 0
    (d / "res" / "c").mkdir()
    assert _metrics(["--json", d / "res" / "c" / "set1.json", d / "b", d / "trials"],
                    capsys)[0] == 0  # no intervals
    status = run_main(results_bin.main, prog="seedkit-results-table", argv=[
        "--baseline", "A", f"A={d}/res/a", f"B={d}/res/b", f"C={d}/res/c"])
    out = capsys.readouterr().out
    assert status == 0
    rows = {r.split(" | ")[1].strip("*"): r for r in out.splitlines() if r.startswith("| set1")}
    ma = json.loads((d / "res" / "a" / "set1" / "metrics.json").read_text())
    mb = json.loads((d / "res" / "b" / "set1" / "metrics.json").read_text())
    lo, hi = ma["ci"]["eer_percent"]
    d_lo, d_hi = mb["compare"]["eer_percent"]["interval"]
    c_lo, c_hi = ma["ci"]["min_dcf"]["0.01"]
    assert rows["A"].startswith(f"| set1 | **A** | 780 | {ma['eer_percent']:.3f} [{lo:.3f}, "
                                f"{hi:.3f}] | - | {ma['min_dcf']['0.01']['value']:.4f} "
                                f"[{c_lo:.4f}, {c_hi:.4f}] | - |")
    rel = 100 * (mb["eer_percent"] - ma["eer_percent"]) / ma["eer_percent"]
    assert f" | {rel:+.1f}% [{d_lo:+.2f}, {d_hi:+.2f}] | " in rows["B"]
    assert "[" not in rows["C"]  # a system without intervals keeps the plain cells
    assert ("[lo, hi] = 95% percentile interval of 100 bootstrap resamples of the test set's "
            "speakers (seedkit-metrics --ci; seed 0).") in out
    assert "rel. [lo, hi] of EER = the interval of the EER difference to A in points" in out
    # a damaged ci block is refused with one error naming the file
    bad = d / "res" / "bad.json"
    bad.write_text(json.dumps({**ma, "ci": {"level": 95, "eer_percent": [1.0]}}))
    status = run_main(results_bin.main, prog="seedkit-results-table",
                      argv=["--baseline", "A", f"A:set1={bad}"])
    err = capsys.readouterr().err
    assert status == 1 and f"{bad}:0: damaged seedkit-metrics JSON: ci is not" in err
