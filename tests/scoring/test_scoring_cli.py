"""seedkit-score / seedkit-metrics / seedkit-train-plda end to end, and every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_reference

from seedkit.bin import metrics as metrics_bin
from seedkit.bin import score as score_bin
from seedkit.bin import train_plda as train_plda_bin
from seedkit.embio import write_embeddings
from seedkit.errors import run_main
from seedkit.scoring.cosine import cosine_scores
from seedkit.scoring.metrics import compute_eer, compute_min_dcf
from seedkit.scoring.scorefile import read_scores


@pytest.fixture
def setup(tmp_path):
    """20 speakers x 5 utterances (D=12), a labelled trial list, a cohort, multi-crop copies."""
    r = np.random.default_rng(0)
    spk = r.normal(size=(20, 12))
    emb = {f"s{s:02d}-{u}": (spk[s] + 0.8 * r.normal(size=12)).astype(np.float32)
           for s in range(20) for u in range(5)}
    keys = list(emb)
    write_embeddings(f"ark,scp:{tmp_path}/e.ark,{tmp_path}/e.scp", emb.items())
    write_embeddings(f"ark,scp:{tmp_path}/c.ark,{tmp_path}/c.scp",
                     [(f"c{i}", r.normal(size=12).astype(np.float32)) for i in range(30)])
    write_embeddings(f"ark:{tmp_path}/m.ark",
                     [(k, np.stack([v + 0.2 * r.normal(size=12) for _ in range(3)])
                       .astype(np.float32)) for k, v in emb.items()])
    (tmp_path / "utt2spk").write_text("".join(f"{k} {k[:3]}\n" for k in keys))
    lines = []
    for _ in range(300):
        a, b = r.choice(len(keys), 2, replace=False)
        lab = "target" if keys[a][:3] == keys[b][:3] else "nontarget"
        lines.append(f"{keys[a]} {keys[b]} {lab}")
    lines += [f"s{s:02d}-0 s{s:02d}-1 target" for s in range(20)]
    (tmp_path / "trials").write_text("\n".join(lines) + "\n")
    return tmp_path, emb


def _run(mod, argv, capsys):
    status = run_main(mod.main, prog=f"seedkit-{mod.__name__.rsplit('.', 1)[-1]}", argv=argv)
    cap = capsys.readouterr()
    return status, cap.out, cap.err


@pytest.mark.parametrize("method,extra", [
    ("cosine", []), ("cosine", ["--mean-from", "scp:{d}/c.scp"]),
    ("asnorm", ["--cohort", "scp:{d}/c.scp", "--top-n", "10"]),
    ("znorm", ["--cohort", "scp:{d}/c.scp"]), ("tnorm", ["--cohort", "scp:{d}/c.scp"]),
    ("snorm", ["--cohort", "scp:{d}/c.scp"]),
    ("seed", []), ("seed-cosine", []), ("plda", ["--plda", "{d}/plda"])])
def test_every_method_scores_and_evaluates(setup, capsys, method, extra):
    d, emb = setup
    assert _run(train_plda_bin, ["--lda-dim", "8", f"scp:{d}/e.scp", f"{d}/utt2spk",
                                 f"{d}/plda"], capsys)[0] == 0
    spec = f"ark:{d}/m.ark" if method.startswith("seed") else f"scp:{d}/e.scp"
    argv = ["--method", method] + [x.format(d=d) for x in extra] + [
        f"{d}/trials", spec, spec, f"{d}/scores"]
    status, _, err = _run(score_bin, argv, capsys)
    assert status == 0, err
    sl = read_scores(d / "scores")
    assert len(sl) == 320 and sl.enroll[0] + sl.test[0] in (d / "trials").read_text().replace(
        " ", "")
    status, out, err = _run(metrics_bin, ["--json", f"{d}/m.json", f"{d}/scores", f"{d}/trials"],
                            capsys)
    assert status == 0, err
    res = json.loads((d / "m.json").read_text())
    assert out.startswith(f"EER {res['eer_percent']:.4f}% minDCF(p=0.01)")
    assert res["num_trials"] == 320 and set(res["min_dcf"]) == {"0.01", "0.05"}
    assert res["eer_percent"] < 25  # speakers are well separated: every back end must see it


def test_cosine_file_matches_library(setup, capsys):
    d, emb = setup
    _run(score_bin, [f"{d}/trials", f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/s"], capsys)
    sl = read_scores(d / "s")
    want = cosine_scores(list(zip(sl.enroll, sl.test)), emb, emb)
    # %.9g round-trips float32: same values, hence same order, ties and metrics
    np.testing.assert_array_equal(sl.scores.astype(np.float32), want)
    lab = np.array([t.endswith(" target") for t in (d / "trials").read_text().splitlines()])
    assert compute_eer(sl.scores, lab) == compute_eer(want, lab)


def test_metrics_cli_reproduces_reference_exactly(tmp_path, capsys):
    ref = load_reference("metrics.json")
    lines_t, lines_s = [], []
    for i, (s, lab) in enumerate(zip(ref["scores"], ref["labels"])):
        lines_t.append(f"e{i} t{i} {'target' if lab else 'nontarget'}")
        lines_s.append(f"e{i} t{i} {s!r}")
    (tmp_path / "trials").write_text("\n".join(lines_t) + "\n")
    (tmp_path / "scores").write_text("\n".join(lines_s) + "\n")
    status, out, err = _run(metrics_bin, ["--p-target", "0.05,0.01", "--json",
                                          f"{tmp_path}/m.json", f"{tmp_path}/scores",
                                          f"{tmp_path}/trials"], capsys)
    assert status == 0, err
    res = json.loads((tmp_path / "m.json").read_text())
    assert res["eer_percent"] == ref["expected_eer_percent"]
    assert res["min_dcf"]["0.05"]["value"] == ref["expected_mindcf_p0.05"]
    assert res["min_dcf"]["0.01"]["value"] == ref["expected_mindcf_p0.01"]
    assert res["num_target"] == ref["num_targets"]


# ---------------------------------------------------------------- bad input, one test each

def test_missing_keys_error_then_skip(setup, capsys):
    d, _ = setup
    extra = "".join(f"ghost{i} s00-0 nontarget\n" for i in range(7))
    (d / "trials2").write_text((d / "trials").read_text() + extra)
    status, _, err = _run(score_bin, [f"{d}/trials2", f"scp:{d}/e.scp", f"scp:{d}/e.scp",
                                      f"{d}/out"], capsys)
    assert status == 1 and not (d / "out").exists()
    assert err.startswith("ERROR (seedkit-score): ")
    assert "7 of 327 trials cannot be scored: 7 enroll key(s)" in err
    assert "ghost0, ghost1, ghost2, ghost3, ghost4)" in err and "ghost5" not in err
    status, _, err = _run(score_bin, ["--skip-missing", f"{d}/trials2", f"scp:{d}/e.scp",
                                      f"scp:{d}/e.scp", f"{d}/out"], capsys)
    assert status == 0 and len(read_scores(d / "out")) == 320
    assert "WARNING (" in err and "7 of 327 trials cannot be scored" in err
    status, _, err = _run(metrics_bin, [f"{d}/out", f"{d}/trials2"], capsys)
    assert status == 1 and "320 scores for 327 trials" in err and "--skip-missing" in err
    status, out, _ = _run(metrics_bin, ["--skip-missing", f"{d}/out", f"{d}/trials2"], capsys)
    assert status == 0 and "(320 trials" in out


def test_dimension_mismatch_between_sides(setup, capsys):
    d, emb = setup
    write_embeddings(f"ark:{d}/small.ark", [(k, v[:8]) for k, v in emb.items()])
    status, _, err = _run(score_bin, [f"{d}/trials", f"scp:{d}/e.scp", f"ark:{d}/small.ark",
                                      f"{d}/out"], capsys)
    assert status == 1 and "have dimension 12 but test embeddings" in err and "have 8" in err
    assert not (d / "out").exists()


def test_single_class_trials_refused(setup, capsys):
    d, _ = setup
    tgt = [x for x in (d / "trials").read_text().splitlines() if x.endswith(" target")]
    (d / "t1").write_text("\n".join(tgt) + "\n")
    assert _run(score_bin, [f"{d}/t1", f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/s1"],
                capsys)[0] == 0  # scoring a one-class list is fine
    status, _, err = _run(metrics_bin, [f"{d}/s1", f"{d}/t1"], capsys)
    assert status == 1
    assert f"{d}/t1:0: all {len(tgt)} trials are target" in err and "nontarget" in err


def test_nan_scores_refused(setup, capsys):
    d, _ = setup
    _run(score_bin, [f"{d}/trials", f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/s"], capsys)
    lines = (d / "s").read_text().splitlines()
    a, b, _ = lines[4].split()
    lines[4] = f"{a} {b} nan"
    (d / "s").write_text("\n".join(lines) + "\n")
    status, _, err = _run(metrics_bin, [f"{d}/s", f"{d}/trials"], capsys)
    assert status == 1 and f"{d}/s:5: score is nan" in err


def test_empty_trials_file(setup, capsys):
    d, _ = setup
    (d / "empty").write_text("")
    status, _, err = _run(score_bin, [f"{d}/empty", f"scp:{d}/e.scp", f"scp:{d}/e.scp",
                                      f"{d}/out"], capsys)
    assert status == 1 and "empty:0: trials file is empty" in err and not (d / "out").exists()
    (d / "s").write_text("a b 0.5\n")
    status, _, err = _run(metrics_bin, [f"{d}/s", f"{d}/empty"], capsys)
    assert status == 1 and "trials file is empty" in err
    (d / "s").write_text("")
    status, _, err = _run(metrics_bin, [f"{d}/s", f"{d}/trials"], capsys)
    assert status == 1 and "scores file is empty" in err


def test_plda_model_of_another_dimension(setup, capsys):
    d, emb = setup
    write_embeddings(f"ark:{d}/small.ark", [(k, v[:8]) for k, v in emb.items()])
    assert _run(train_plda_bin, [f"ark:{d}/small.ark", f"{d}/utt2spk", f"{d}/plda8"],
                capsys)[0] == 0
    status, _, err = _run(score_bin, ["--method", "plda", "--plda", f"{d}/plda8", f"{d}/trials",
                                      f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/out"], capsys)
    assert status == 1 and "have dimension 12 but the PLDA model was trained on dimension 8" in err


def test_scores_out_of_order_refused(setup, capsys):
    d, _ = setup
    _run(score_bin, [f"{d}/trials", f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/s"], capsys)
    lines = (d / "s").read_text().splitlines()
    lines[2], lines[3] = lines[3], lines[2]
    (d / "s").write_text("\n".join(lines) + "\n")
    status, _, err = _run(metrics_bin, [f"{d}/s", f"{d}/trials"], capsys)
    assert status == 1 and f"{d}/s:3: pair" in err and "does not match trial" in err


def test_option_combinations_refused(setup, capsys):
    d, _ = setup
    base = [f"{d}/trials", f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/out"]
    for argv, msg in ((["--method", "asnorm"], "needs --cohort"),
                      (["--method", "plda"], "needs --plda"),
                      (["--top-n", "5"], "--top-n is only used"),
                      (["--method", "plda", "--plda", "x", "--mean-from", "scp:y"],
                       "--mean-from is not used")):
        status, _, err = _run(score_bin, argv + base, capsys)
        assert status == 1 and msg in err
    status, _, err = _run(metrics_bin, ["--p-target", "0.01,2", f"{d}/x", f"{d}/trials"], capsys)
    assert status == 1 and "not in (0, 1)" in err


def test_voxceleb_form_trials(setup, capsys):
    d, emb = setup
    vox = ["1 s00/0.wav s00/1.wav", "0 s00/0.wav s01/3.wav"]
    (d / "vox").write_text("\n".join(vox) + "\n")
    assert _run(score_bin, [f"{d}/vox", f"scp:{d}/e.scp", f"scp:{d}/e.scp", f"{d}/s"],
                capsys)[0] == 0
    sl = read_scores(d / "s")
    assert sl.enroll == ["s00-0", "s00-0"] and sl.test == ["s00-1", "s01-3"]
    # the scores are the cosines of the named embeddings, computed here in float64
    e = {k: emb[k].astype(np.float64) for k in ("s00-0", "s00-1", "s01-3")}
    want = [e["s00-0"] @ e[t] / (np.linalg.norm(e["s00-0"]) * np.linalg.norm(e[t]))
            for t in ("s00-1", "s01-3")]
    np.testing.assert_allclose(sl.scores, want, rtol=1e-6, atol=1e-7)
    # metrics, worked out by hand for one target and one non-target: the target scores higher
    # here, so a threshold between the two makes no error (EER 0, minDCF 0); with the labels
    # swapped the best is to accept nothing (P_miss 1, P_fa 0: normalised cost p / p = 1) and
    # the closest ROC vertex to P_miss = P_fa is (P_fa 1, P_miss 1): EER 100%
    assert want[0] > want[1]
    for lab, eer, dcf in (([1, 0], 0.0, 0.0), ([0, 1], 100.0, 1.0)):
        lab = np.array(lab)
        assert compute_eer(sl.scores, lab) == eer
        assert compute_min_dcf(sl.scores, lab, 0.01) == pytest.approx(dcf, abs=1e-12)
        assert compute_min_dcf(sl.scores, lab, 0.05) == pytest.approx(dcf, abs=1e-12)
