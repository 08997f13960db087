"""DET plots (PNG + PDF) and the Markdown results table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedkit.bin import plot_det as plot_det_bin
from seedkit.bin import results_table as results_bin
from seedkit.errors import SeedkitError, run_main
from seedkit.scoring.results import collect, markdown_table


def _run(mod, argv, capsys):
    status = run_main(mod.main, prog="prog", argv=argv)
    cap = capsys.readouterr()
    return status, cap.out, cap.err


@pytest.fixture
def scored(tmp_path):
    r = np.random.default_rng(0)
    lab = r.random(400) < 0.3
    (tmp_path / "trials").write_text("".join(
        f"e{i} t{i} {'target' if y else 'nontarget'}\n" for i, y in enumerate(lab)))
    for name, sep in (("a", 1.0), ("b", 2.0)):
        s = r.normal(size=400) + sep * lab
        (tmp_path / name).write_text("".join(f"e{i} t{i} {v:.6f}\n" for i, v in enumerate(s)))
    return tmp_path


def test_det_writes_png_and_pdf(scored, capsys):
    d = scored
    status, _, err = _run(plot_det_bin, ["--labels", "base,seed", "--trials", f"{d}/trials",
                                         f"{d}/a", f"{d}/b", f"{d}/det.png"], capsys)
    assert status == 0, err
    assert (d / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (d / "det.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(d.glob(".det*"))  # no temporaries left


def _det_points(path) -> dict[str, np.ndarray]:
    """``<name>.det.tsv`` -> {system: [points, 3] (threshold, p_miss, p_fa)}, in file order."""
    lines = path.read_text().splitlines()
    assert lines[0] == "system\tthreshold\tp_miss\tp_fa"
    out: dict[str, list] = {}
    for ln in lines[1:]:
        name, *values = ln.split("\t")
        out.setdefault(name, []).append([float(v) for v in values])
    return {k: np.array(v) for k, v in out.items()}


def _counts(tar: np.ndarray, non: np.ndarray, t: float) -> tuple[int, int]:
    """(misses, false alarms) when scores >= t are accepted."""
    return int(np.sum(tar < t)), int(np.sum(non >= t))


def test_det_points_file_matches_rates_counted_here(scored, capsys):
    """Every listed point's P_miss / P_fa equal the rates counted here with numpy (accept when
    score >= threshold), and the points trace the whole curve: the operating point at every
    distinct score is listed or lies on the segment between its listed neighbours."""
    d = scored
    rows = [ln.split() for ln in (d / "b").read_text().splitlines()]
    (d / "c").write_text("".join(f"{e} {t} {round(2 * float(v)) / 2}\n" for e, t, v in rows))
    status, _, err = _run(plot_det_bin, ["--labels", "base,seed,tied", "--trials", f"{d}/trials",
                                         f"{d}/a", f"{d}/b", f"{d}/c", f"{d}/det.png"], capsys)
    assert status == 0, err
    points = _det_points(d / "det.det.tsv")
    assert list(points) == ["base", "seed", "tied"]
    lab = np.array([ln.endswith(" target") for ln in (d / "trials").read_text().splitlines()])
    for (name, pts), f in zip(points.items(), "abc"):
        s = np.array([float(ln.split()[2]) for ln in (d / f).read_text().splitlines()])
        tar, non = s[lab], s[~lab]
        thr, p_miss, p_fa = pts.T
        np.testing.assert_allclose(p_miss, [np.mean(tar < t) for t in thr], rtol=0, atol=1e-12)
        np.testing.assert_allclose(p_fa, [np.mean(non >= t) for t in thr], rtol=0, atol=1e-12)
        assert thr[0] == np.inf and (p_miss[0], p_fa[0]) == (1, 0), name
        assert thr[-1] == s.min() and (p_miss[-1], p_fa[-1]) == (0, 1), name
        assert np.all(np.diff(thr) < 0), name
        every = np.unique(s)  # each distinct score is an operating point
        if name == "tied":
            assert every.size < 30  # 400 scores on a 0.5 grid: tie groups
        asc = thr[::-1]
        dropped = 0
        for t in every:
            j = int(np.searchsorted(asc, t))
            if asc[j] == t:
                continue
            dropped += 1
            (m, a), (m_lo, a_lo), (m_hi, a_hi) = (_counts(tar, non, x)
                                                  for x in (t, asc[j - 1], asc[j]))
            # integer cross product: (a, m) on the straight line through its neighbours
            assert (a - a_hi) * (m_lo - m_hi) == (m - m_hi) * (a_lo - a_hi), (name, t)
        assert dropped > 0 or name == "tied", name  # the check above ran


T = "--trials={d}/trials"


@pytest.mark.parametrize("argv,msg", [
    ([T, "--labels", "x", "{d}/a", "{d}/b", "{d}/o.png"], "--labels has 1 names for 2"),
    ([T, T, T, "{d}/a", "{d}/b", "{d}/o.png"], "3 --trials for 2"),
    ([T, "{d}/a", "{d}/o.svg"], "must end in .png"),
    ([T, "--labels", "a\tb,c", "{d}/a", "{d}/b", "{d}/o.png"], "contains a tab or line break"),
])
def test_det_bad_arguments(scored, capsys, argv, msg):
    d = scored
    status, _, err = _run(plot_det_bin, [a.format(d=d) for a in argv], capsys)
    assert status == 1 and msg in err
    assert not (d / "o.png").exists() and not (d / "o.det.tsv").exists()


def _metrics(path, eer, d1, d5, n=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"eer_percent": eer, "num_trials": n, "min_dcf": {
        "0.01": {"p_target": 0.01, "value": d1}, "0.05": {"p_target": 0.05, "value": d5}}}))


def test_results_table_layout_and_relative_change(tmp_path, capsys):
    _metrics(tmp_path / "base" / "clean" / "metrics.json", 2.0, 0.2, 0.1)
    _metrics(tmp_path / "base" / "noisy.json", 10.0, 0.8, 0.5)
    _metrics(tmp_path / "seed" / "noisy" / "metrics.json", 8.04, 0.8, 0.6)
    _metrics(tmp_path / "one.json", 1.0, 0.0, 0.1)
    status, out, err = _run(results_bin, ["--baseline", "base", f"base={tmp_path}/base",
                                          f"seed={tmp_path}/seed",
                                          f"plda:clean={tmp_path}/one.json"], capsys)
    assert status == 0, err
    rows = [r for r in out.splitlines() if r.startswith("| ")]
    assert rows[0].startswith("| test set | system | trials | EER (%) | rel. | minDCF@0.01")
    assert rows[1] == "| clean | **base** | 100 | 2.000 | - | 0.2000 | - | 0.1000 | - |"
    assert rows[2] == "| clean | plda | 100 | 1.000 | -50.0% | 0.0000 | -100.0% | 0.1000 | +0.0% |"
    assert rows[3].startswith("| noisy | **base** |")
    assert rows[4] == "| noisy | seed | 100 | 8.040 | -19.6% | 0.8000 | +0.0% | 0.6000 | +20.0% |"


def test_results_table_errors(tmp_path):
    _metrics(tmp_path / "a" / "x.json", 1.0, 0.1, 0.1)
    with pytest.raises(SeedkitError, match="^baseline 'zz' is not one of the systems: a"):
        markdown_table(collect([f"a={tmp_path}/a"]), "zz")
    with pytest.raises(SeedkitError, match="SYSTEM=DIR or SYSTEM:TESTSET=FILE"):
        collect(["nonsense"])
    with pytest.raises(SeedkitError, match="twice"):
        collect([f"a={tmp_path}/a", f"a:x={tmp_path}/a/x.json"])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SeedkitError, match="not a seedkit-metrics JSON"):
        collect([f"s:t={tmp_path}/bad.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeedkitError, match="no <testset>/metrics.json"):
        collect([f"s={tmp_path}/empty"])


def test_results_table_test_set_order(tmp_path, capsys):
    """SYSTEM=DIR lists test sets in natural order (eval_snr5 before eval_snr10); file arguments
    keep the order in which test sets first appear."""
    for t in ["eval_snr10", "eval_snr5", "eval_clean", "eval_snr15", "eval_snr0"]:
        _metrics(tmp_path / "base" / t / "metrics.json", 2.0, 0.2, 0.1)
    status, out, err = _run(results_bin, ["--baseline", "base", f"base={tmp_path}/base"], capsys)
    assert status == 0, err
    rows = [r.split(" | ")[0][2:] for r in out.splitlines() if r.startswith("| eval")]
    assert rows == ["eval_clean", "eval_snr0", "eval_snr5", "eval_snr10", "eval_snr15"]
    f = tmp_path / "base" / "eval_snr5" / "metrics.json"
    status, out, err = _run(results_bin, ["--baseline", "b", f"b:snr10={f}", f"b:snr5={f}",
                                          f"s:snr5={f}", f"s:snr10={f}"], capsys)
    assert status == 0, err
    rows = [r.split(" | ")[:2] for r in out.splitlines() if r.startswith("| snr")]
    assert rows == [["| snr10", "**b**"], ["| snr10", "s"], ["| snr5", "**b**"], ["| snr5", "s"]]
