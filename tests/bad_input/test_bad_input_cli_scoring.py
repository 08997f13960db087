"""The bad-input table (test_bad_input_cli.py beside this file), scoring commands:
seedkit-train-plda, seedkit-score, seedkit-metrics, seedkit-plot-det, seedkit-results-table,
seedkit-merge-embedding-scp and seedkit-make-vcmix."""

from __future__ import annotations

import gzip
import io

import bad_input_cases as bi
import numpy as np
import pytest
from bad_input_cases import Case, world  # noqa: F401  (world: the module fixture)

from seedkit.embio import EmbeddingWriter

CASES: list[Case] = []

for _k in bi.RSPEC_BAD:
    _r = bi.rspec_bad(_k)
    CASES += [
        Case(f"train-plda:{_k}", "train_plda", lambda w, t, r=_r: [
            r(w, t), w / "data" / "utt2spk", t / "plda"], ["plda"],
            bi.rspec_words("train-plda", _k)),
        Case(f"score:{_k}", "score", lambda w, t, r=_r: [
            w / "trials", r(w, t), f"scp:{w}/emb.scp", t / "scores"], ["scores"],
            bi.rspec_words("score", _k)),
    ]

# --- train-plda: degenerate data and options -------------------------------------------------
for _cid, (_args, _words) in {
        "num-iters-0": (["--num-iters", "0"], "--num-iters must be in 1..10000, got 0"),
        "lda-neg": (["--lda-dim", "-1"], ("--lda-dim must be >= 0", "got -1")),
        "lda-too-big": (["--lda-dim", "50"], ("--lda-dim 50", "embedding dimension 8"))}.items():
    CASES.append(Case(f"train-plda:{_cid}", "train_plda", lambda w, t, a=_args: [
        *a, f"scp:{w}/emb.scp", w / "data" / "utt2spk", t / "plda"], ["plda"], _words))


@bi.case(CASES, "train-plda:no-within-variance", "train_plda", ["plda"],
         "no within-speaker variance")
def _(w, t):
    rng = np.random.default_rng(1)
    with EmbeddingWriter(f"ark:{t}/d.ark") as wr:
        for s in range(4):
            v = rng.standard_normal(3).astype(np.float32)
            for u in range(3):
                wr.write(f"s{s}-{u}", v)
    (t / "u2s").write_text("".join(f"s{s}-{u} s{s}\n" for s in range(4) for u in range(3)))
    return [f"ark:{t}/d.ark", t / "u2s", t / "plda"]


@bi.case(CASES, "train-plda:one-speaker", "train_plda", ["plda"], "at least 2 speakers, got 1")
def _(w, t):
    (t / "u2s").write_text("".join(f"{u} s\n" for u in ("s1-a", "s1-b", "s2-a", "s2-b",
                                                        "s3-a", "s3-b")))
    return [f"scp:{w}/emb.scp", t / "u2s", t / "plda"]


for _cid, (_content, _words) in {
        "utt2spk-binary": (bi.BINARY, ("/u2s:0:", "binary data")),
        "utt2spk-gzip": (None, ("/u2s:0:", "gzip-compressed")),
        "utt2spk-no-match": (b"zz z\n", ("/u2s:0:", "no embedding key is in utt2spk"))}.items():
    CASES.append(Case(f"train-plda:{_cid}", "train_plda", lambda w, t, c=_content: [
        f"scp:{w}/emb.scp", bi.write(t, "u2s", bi.gz(w / "data/utt2spk") if c is None else c),
        t / "plda"], ["plda"], _words))
CASES.append(Case("train-plda:output-is-utt2spk", "train_plda", lambda w, t: [
    f"scp:{w}/emb.scp", bi.write(t, "u2s", (w / "data/utt2spk").read_bytes()), t / "u2s"], [],
    ("/u2s:0:", "also an input")))

# --- score: trials and models -----------------------------------------------------------------
for _cid, (_content, _words) in {
        **{k: (c, (f"/trials{at}", what)) for k, (c, at, what) in bi.TEXT_BAD.items()},
        "two-fields-then-three": (b"s1-a s1-b\ns1-a s2-a target\n",
                                  ("/trials:2:", "unlabelled", "3 fields")),
        "label-bad": (b"s1-a s1-b maybe\n", ("/trials:1:", "target|nontarget")),
        "key-unknown": (b"zz s1-b target\n", ("/trials:0:", "enroll key(s) absent", "zz")),
        "gzip-truncated": (gzip.compress(b"s1-a s1-b target\n" * 50)[:20],
                           ("/trials:0:", "cannot be decompressed")),
        }.items():
    CASES.append(Case(f"score:trials-{_cid}", "score", lambda w, t, c=_content: [
        bi.write(t, "trials", c), f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t / "scores"],
        ["scores"], _words))
for _cid, (_args, _words) in {
        "plda-png": ("png", ("/plda:0:", "not a seedkit PLDA model")),
        "plda-missing": ("missing", ("/nope:0:", "PLDA model not found")),
        "plda-nan": ("nan", ("/plda:0:", "'phi_b' is not finite")),
        "plda-dim": ("dim", ("/emb4.scp have dimension 4", "trained on dimension 8")),
        "wrong-dim-test": ("dimtest", ("(scp:", "/emb4.scp) have 4")),
        "chunk-0": ("chunk", ()),  # accepted, below
        "top-n-0": ("topn", "--top-n must be positive, got 0")}.items():
    def _mk(kind=_args):
        def prep(w, t):
            if kind == "dimtest":
                return [w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb4.scp", t / "scores"]
            if kind == "chunk":
                return ["--chunk", "0", w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb.scp",
                        t / "scores"]
            if kind == "topn":
                return ["--method", "asnorm", "--cohort", f"scp:{w}/emb.scp", "--top-n", "0",
                        w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t / "scores"]
            if kind == "png":
                model = bi.write(t, "plda", bi.PNG)
            elif kind == "missing":
                model = t / "nope"
            elif kind == "nan":
                z = dict(np.load(w / "plda"))
                z["phi_b"] = z["phi_b"] * np.nan
                buf = io.BytesIO()
                np.savez(buf, **z)
                model = bi.write(t, "plda", buf.getvalue())
            else:
                model = w / "plda"
                return ["--method", "plda", "--plda", model, w / "trials", f"scp:{w}/emb4.scp",
                        f"scp:{w}/emb4.scp", t / "scores"]
            return ["--method", "plda", "--plda", model, w / "trials", f"scp:{w}/emb.scp",
                    f"scp:{w}/emb.scp", t / "scores"]
        return prep
    CASES.append(Case(f"score:{_cid}", "score", _mk(), ["scores"], _words))

CASES += [
    Case("score:asnorm-no-cohort", "score", lambda w, t: [
        "--method", "asnorm", w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb.scp",
        t / "s"], ["s"], "--method asnorm needs --cohort"),
    Case("score:cohort-other-dim", "score", lambda w, t: [
        "--method", "asnorm", "--cohort", f"scp:{w}/emb4.scp", w / "trials",
        f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t / "s"], ["s"],
        "cohort embeddings have dimension 4 but the trial embeddings have 8"),
    Case("score:mean-from-other-dim", "score", lambda w, t: [
        "--mean-from", f"scp:{w}/emb4.scp", w / "trials", f"scp:{w}/emb.scp",
        f"scp:{w}/emb.scp", t / "s"], ["s"],
        "--mean-from embeddings have dimension 4 but the trial embeddings have 8"),
    # the line names the output's temporary file, not the directory given (a finding)
    Case("score:out-is-dir", "score", lambda w, t: [
        w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t], [],
        ("this output is a directory", "give a file name")),
    Case("score:output-is-trials", "score", lambda w, t: [
        bi.write(t, "trials", (w / "trials").read_bytes()), f"scp:{w}/emb.scp",
        f"scp:{w}/emb.scp", t / "trials"], [], ("/trials:0:", "also an input")),
]

# --- metrics / plot-det / results-table ---------------------------------------------------------
SCORES_BAD = {"binary": (bi.BINARY, ":0:", "binary data"), "png": (bi.PNG, ":0:", "PNG image"),
              "empty": (b"", ":0:", "scores file is empty"),
              "latin1": (bi.LATIN1, ":1:", "not UTF-8"),
              "ark": (bi.ARK, ":0:", "binary Kaldi archive"),
              "nan": (b"s1-a s1-b nan\n", ":1:", "score is nan"),
              "two-fields": (b"s1-a s1-b\n", ":1:", "expected '<enroll> <test> <score>'"),
              "not-number": (b"s1-a s1-b high\n", ":1:", "score 'high' is not a number"),
              "utf16": ("s1-a s1-b 1\n".encode("utf-16"), ":0:", "UTF-16"),
              "xz": (b"\xfd7zXZ\x00\x00\x04", ":0:", "xz-compressed")}
for _cid, (_content, _at, _what) in SCORES_BAD.items():
    CASES.append(Case(f"metrics:scores-{_cid}", "metrics", lambda w, t, c=_content: [
        "--json", t / "m.json", bi.write(t, "scores", c), w / "trials"], ["m.json"],
        (f"/scores{_at}", _what)))
    CASES.append(Case(f"plot-det:scores-{_cid}", "plot_det", lambda w, t, c=_content: [
        "--trials", w / "trials", bi.write(t, "scores", c), t / "det.png"], ["det.png"],
        (f"/scores{_at}", _what)))
for _cid, (_content, _at, _what) in bi.TEXT_BAD.items():
    CASES.append(Case(f"metrics:trials-{_cid}", "metrics", lambda w, t, c=_content: [
        "--json", t / "m.json", w / "scores", bi.write(t, "trials", c)], ["m.json"],
        (f"/trials{_at}", _what)))
CASES.append(Case("metrics:trials-crlf", "metrics", lambda w, t: [
    w / "scores", bi.write(t, "trials", (w / "trials").read_bytes().replace(b"\n", b"\r\n"))]))
CASES.append(Case("metrics:trials-bom", "metrics", lambda w, t: [
    w / "scores", bi.write(t, "trials", b"\xef\xbb\xbf" + (w / "trials").read_bytes())]))
for _cid, (_p, _what) in {"p-1.5": ("1.5", "not in (0, 1)"), "p-0": ("0", "not in (0, 1)"),
                          "p-nan": ("nan", "not in (0, 1)"),
                          "p-word": ("x", "'x' is not a number")}.items():
    CASES.append(Case(f"metrics:{_cid}", "metrics", lambda w, t, p=_p: [
        "--p-target", p, "--json", t / "m.json", w / "scores", w / "trials"], ["m.json"],
        (f"--p-target '{_p}'", _what)))
CASES += [
    Case("metrics:all-target", "metrics", lambda w, t: [
        "--json", t / "m.json", bi.write(t, "sc", b"s1-a s1-b 0.9\n"),
        bi.write(t, "tr", b"s1-a s1-b target\n")], ["m.json"],
        ("/tr:0:", "all 1 trials are target")),
    Case("metrics:fewer-scores", "metrics", lambda w, t: [
        "--json", t / "m.json", bi.write(t, "sc", b"s1-a s1-b 0.9\n"), w / "trials"], ["m.json"],
        ("/sc:2:", "1 scores for 4 trials")),
    Case("metrics:duplicate-scores", "metrics", lambda w, t: [
        "--json", t / "m.json", bi.write(t, "sc", (w / "scores").read_bytes() * 2), w / "trials"],
        ["m.json"], ("/sc:5:", "8 scores for 4 trials")),
    Case("metrics:inf-score", "metrics", lambda w, t: [
        "--json", t / "m.json", bi.write(t, "sc", b"s1-a s1-b 1e999\n"), w / "trials"],
        ["m.json"], ("/sc:1:", "score is 1e999")),
    Case("metrics:json-is-scores", "metrics", lambda w, t: [
        "--json", t / "s", bi.write(t, "s", (w / "scores").read_bytes()), w / "trials"], [],
        ("/s:0:", "also an input")),
]
for _cid, (_content, _words) in {
        "png": (bi.PNG, ("/m.json:0:", "PNG image")),
        "binary": (bi.BINARY, ("/m.json:0:", "binary data")),
        "truncated": (b'{"eer_percent": 5', ("/m.json:1:", "not valid JSON")),
        "list": (b"[1, 2]", ("/m.json:0:", "not a seedkit-metrics JSON")),
        "empty": (b"", ("/m.json:1:", "not valid JSON")),
        "latin1": (b'{"a": "caf\xe9"}', ("/m.json:1:", "not UTF-8")),
        "eer-text": (b'{"eer_percent": "x", "min_dcf": {}}', ("/m.json:0:", "eer_percent is 'x'")),
        "dcf-null": (b'{"eer_percent": 1, "min_dcf": {"0.01": null}}',
                     ("/m.json:0:", "min_dcf['0.01'] is None")),
        "dcf-float": (b'{"eer_percent": 1, "min_dcf": {"0.01": 0.5}}',
                      ("/m.json:0:", "min_dcf['0.01'] is 0.5")),
        "eer-nan": (b'{"eer_percent": NaN, "min_dcf": {}}', ("/m.json:0:", "eer_percent is nan")),
        }.items():
    CASES.append(Case(f"results-table:json-{_cid}", "results_table", lambda w, t, c=_content: [
        "--baseline", "base", "--out", t / "R.md",
        f"base:test={w / 'metrics.json'}", f"seed:test={bi.write(t, 'm.json', c)}"], ["R.md"],
        _words))
CASES += [
    Case("results-table:bad-arg", "results_table", lambda w, t: [
        "--baseline", "base", "--out", t / "R.md", "base"], ["R.md"], "bad argument 'base'"),
    Case("results-table:baseline-missing", "results_table", lambda w, t: [
        "--baseline", "nope", "--out", t / "R.md", f"base:test={w / 'metrics.json'}"],
        ["R.md"], "--baseline 'nope' is not one of the systems"),
    Case("results-table:dir-without-metrics", "results_table", lambda w, t: [
        "--baseline", "base", "--out", t / "R.md", f"base={t}"], ["R.md"],
        "no <testset>/metrics.json or <testset>.json here"),
]

# --- make-vcmix -----------------------------------------------------------------------------
for _cid, (_what, _words) in {
        "vox-key-missing": ("vox", ("/vox1/trials:2:", "'zz' is not an utterance")),
        "vc-key-missing": ("vc", ("/vc/trials:1:", "'zz' is not an utterance")),
        "trials-binary": ("bin", ("/vc/trials:0:", "binary data")),
        "trials-png": ("png", ("/vox1/trials:0:", "PNG image")),
        "vc-utt2spk-unsorted": ("unsorted", ("/vc/utt2spk:2:", "not sorted"))}.items():
    def _mk(what=_what):
        def prep(w, t):
            vox = bi.copy_dir(w / "vox1", t / "vox1")
            vc = bi.copy_dir(w / "vc", t / "vc")
            if what == "vox":
                (vox / "trials").write_text("s1-a s1-b target\ns1-a zz target\n")
            elif what == "vc":
                (vc / "trials").write_text("c0-x zz nontarget\n")
            elif what == "bin":
                (vc / "trials").write_bytes(bi.BINARY)
            elif what == "png":
                (vox / "trials").write_bytes(bi.PNG)
            else:
                (vc / "utt2spk").write_text("c1-x c1-x\nc0-x c0-x\n")
            return [vox, vc, t / "vcmix"]
        return prep
    CASES.append(Case(f"make-vcmix:{_cid}", "make_vcmix", _mk(), ["vcmix"], _words))
CASES.append(Case("make-vcmix:same-dir-twice", "make_vcmix", lambda w, t: [
    w / "vox1", w / "vox1", t / "vcmix"], ["vcmix"], ("/vox1:0:", "6 keys are in both data dirs")))

# --- merge-embedding-scp -----------------------------------------------------------------------
for _cid, (_content, _words) in {
        "binary": (bi.BINARY, ("/1.scp:0:", "binary data")),
        "ark": (bi.ARK, ("/1.scp:0:", "binary Kaldi archive")),
        "gzip": (None, ("/1.scp:0:", "gzip-compressed")),
        "latin1": (bi.LATIN1, ("/1.scp:1:", "not UTF-8"))}.items():
    CASES.append(Case(f"merge-scp:{_cid}", "merge_embedding_scp", lambda w, t, c=_content: [
        "--data", w / "data", t / "all.scp",
        bi.write(t, "1.scp", bi.gz(w / "emb.scp") if c is None else c)], ["all.scp"], _words))
CASES += [
    Case("merge-scp:data-invalid", "merge_embedding_scp", lambda w, t: [
        "--data", bi.bad_table("utt2spk", bi.BINARY)(w, t), t / "all.scp", w / "emb.scp"],
        ["all.scp"], ("/in/utt2spk:0:", "binary data")),
    Case("merge-scp:duplicate-keys", "merge_embedding_scp", lambda w, t: [
        t / "all.scp", w / "emb.scp", w / "emb.scp"], ["all.scp"],
        ("/emb.scp:1:", "key 's1-a' appears in more than one")),
]

# Inputs accepted on purpose (each is run by test_bad_input_cli.py and must succeed):
ACCEPTED = {
    # seedkit-score --chunk only sizes the work; values below 1 mean 1
    "score:chunk-0": "--chunk below 1 is taken as 1",
    # CRLF line ends and a UTF-8 byte-order mark (Windows editors) are read as plain text
    "metrics:trials-crlf": "CRLF line ends are read as LF",
    "metrics:trials-bom": "a UTF-8 byte-order mark is dropped",
}
ACCEPTED_CASES = [c for c in CASES if c.id in ACCEPTED]
CASES = [c for c in CASES if c.id not in ACCEPTED]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, world, tmp_path, capsys, monkeypatch):  # noqa: F811
    bi.check_bad_input(c, world, tmp_path, capsys, monkeypatch)
