"""The bad-input table: every console script on malformed input (empty, binary, compressed,
truncated, wrong encoding, wrong shape, out-of-range values, inconsistent data dirs) must end with
a non-zero status, exactly one ERROR line, no traceback, and nothing under the requested output
name. The commands run in-process through ``run_main`` (as the console scripts do); a few run as
real processes at the end to check the same from the outside.

Accepted on purpose (not in the table): gzip-compressed trials, score files and metrics JSON are
read as their decompressed text (``seedkit.fileio.read_text(gzip_ok=True)``).
"""

from __future__ import annotations

import gzip
import importlib
import io
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
import torch

from seedkit.embio import EmbeddingWriter
from seedkit.errors import run_main

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
BINARY = bytes(range(256)) * 4
LATIN1 = b"s1-a caf\xe9\n"
ARK = b"s1-a \x00B\x04\x00\x00\x00\x00"


# ----------------------------------------------------------------------------- the good world

@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Valid inputs of every kind: a data dir with audio, embeddings, trials, scores, a metrics
    JSON, a SEED model, a PLDA model, MUSAN/RIR data dirs and a trials pair for VC-Mix."""
    w = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    (w / "wav").mkdir()
    utts = [f"{s}-{u}" for s in ("s1", "s2", "s3") for u in ("a", "b")]
    for u in utts:
        sf.write(w / "wav" / f"{u}.wav", 0.1 * rng.standard_normal(8000), 16000,
                 subtype="PCM_16")
    _datadir(w / "data", {u: (str(w / "wav" / f"{u}.wav"), u.split("-")[0]) for u in utts})
    for name, keys in (("musan", ["music-a", "noise-b"]), ("rirs", ["small-r1"])):
        for k in keys:
            sf.write(w / "wav" / f"{k}.wav", 0.1 * rng.standard_normal(8000), 16000)
        _datadir(w / name, {k: (str(w / "wav" / f"{k}.wav"), k.split("-")[0]) for k in keys})
    emb = {u: rng.standard_normal(8).astype(np.float32) + 3 * (int(u[1]) - 2) for u in utts}
    with EmbeddingWriter(f"ark,scp:{w}/emb.ark,{w}/emb.scp") as wr:
        for k, v in emb.items():
            wr.write(k, v)
    with EmbeddingWriter(f"ark,scp:{w}/emb4.ark,{w}/emb4.scp") as wr:
        for k in utts:
            wr.write(k, rng.standard_normal(4).astype(np.float32))
    (w / "trials").write_text("s1-a s1-b target\ns1-a s2-a nontarget\ns2-a s2-b target\n"
                              "s2-b s3-a nontarget\n")
    (w / "scores").write_text("s1-a s1-b 0.9\ns1-a s2-a 0.1\ns2-a s2-b 0.8\ns2-b s3-a 0.3\n")
    from seedkit.scoring.report import evaluate_scores_file

    evaluate_scores_file(str(w / "scores"), str(w / "trials"), [0.01, 0.05],
                         json_out=str(w / "metrics.json"))
    (w / "utt2clean").write_text("".join(f"{u} {u}\n" for u in utts))
    _seed_model(w / "final.pt", dim=8)
    from seedkit.scoring.plda import save_plda, train_plda_backend

    x = np.stack([emb[u] for u in utts]).astype(np.float64)
    x = np.concatenate([x, x + 0.3 * rng.standard_normal(x.shape)])
    save_plda(train_plda_backend(x, np.array([u[:2] for u in utts] * 2)), w / "plda")
    # VC-Mix inputs: a VoxCeleb1-O-like and a VoxConverse-like data dir with trials
    _datadir(w / "vox1", {u: (str(w / "wav" / f"{u}.wav"), u.split("-")[0]) for u in utts})
    (w / "vox1" / "trials").write_text("s1-a s1-b target\ns1-a s2-a nontarget\n")
    vc = {f"c{i}-x": (str(w / "wav" / f"{u}.wav"), f"c{i}-x") for i, u in enumerate(utts[:2])}
    _datadir(w / "vc", vc)
    (w / "vc" / "trials").write_text("c0-x c1-x nontarget\n")
    return w


def _datadir(path: Path, entries: dict[str, tuple[str, str]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    keys = sorted(entries)
    (path / "wav.scp").write_text("".join(f"{k} {entries[k][0]}\n" for k in keys))
    (path / "utt2spk").write_text("".join(f"{k} {entries[k][1]}\n" for k in keys))


def _seed_model(path: Path, dim: int) -> None:
    from seedkit.seed.checkpoint import FORMAT, save_checkpoint
    from seedkit.seed.config import merge_config, resolve_dims
    from seedkit.seed.diffusion import SeedDiffusion

    cfg = resolve_dims(merge_config({"embed_dim": dim}))
    torch.manual_seed(0)
    net = SeedDiffusion(cfg).net
    save_checkpoint({"format": FORMAT, "kind": "model", "config": dict(cfg),
                     "model": net.state_dict()}, path)


# ----------------------------------------------------------------------------- the table

@dataclass
class Case:
    """One malformed input: ``prepare(world, tmp)`` writes the bad files and returns the argv."""

    id: str
    module: str
    prepare: Callable[[Path, Path], list]
    outputs: list[str] = field(default_factory=list)   # relative to tmp: must not exist
    words: str = ""                                     # expected in the ERROR line


def _copy_dir(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _bad_table(name: str, content: bytes, base: str = "data"):
    """A copy of world/<base> whose table ``name`` holds ``content``."""
    def prep(w: Path, t: Path) -> Path:
        d = _copy_dir(w / base, t / "in")
        (d / name).write_bytes(content)
        return d
    return prep


def _gz(path: Path) -> bytes:
    return gzip.compress(path.read_bytes())


def _write(t: Path, name: str, content: bytes) -> Path:
    p = t / name
    p.write_bytes(content)
    return p


CASES: list[Case] = []


def case(id, module, outputs=(), words=""):
    def deco(fn):
        CASES.append(Case(id, module, fn, list(outputs), words))
        return fn
    return deco


# --- data dir tables, for every command that reads a data dir --------------------------------
TABLE_BAD = {
    "utt2spk-empty": ("utt2spk", b""),
    "utt2spk-binary": ("utt2spk", BINARY),
    "utt2spk-gzip": ("utt2spk", None),
    "utt2spk-png": ("utt2spk", PNG),
    "utt2spk-latin1": ("utt2spk", LATIN1),
    "utt2spk-utf16": ("utt2spk", "s1-a s1\n".encode("utf-16")),
    "utt2spk-blank-line": ("utt2spk", b"s1-a s1\n\ns1-b s1\n"),
    "utt2spk-one-field": ("utt2spk", b"s1-a\n"),
    "utt2spk-dup": ("utt2spk", b"s1-a s1\ns1-a s1\n"),
    "utt2spk-unsorted": ("utt2spk", b"s3-b s3\ns3-a s3\ns2-b s2\ns2-a s2\ns1-b s1\ns1-a s1\n"),
    "wav.scp-ark": ("wav.scp", ARK),
    "wav.scp-gzip": ("wav.scp", None),
    "wav.scp-bad-pipe": ("wav.scp", b"s1-a |\n"),
    "wav.scp-missing-key": ("wav.scp", b"s1-a /x.wav\n"),
    "segments-binary": ("segments", BINARY),
    "utt2dur-not-number": ("utt2dur", b"s1-a x\n"),
}


def _table_content(w: Path, name: str, content):
    return _gz(w / "data" / name) if content is None else content


for _cid, (_name, _content) in TABLE_BAD.items():
    def _mk(name=_name, content=_content):
        def prep_dir(w, t):
            d = _copy_dir(w / "data", t / "in")
            (d / name).write_bytes(_table_content(w, name, content))
            return d
        return prep_dir
    _prep = _mk()
    CASES += [
        Case(f"validate:{_cid}", "validate_data_dir", lambda w, t, p=_prep: [p(w, t)]),
        Case(f"fix:{_cid}", "fix_data_dir", lambda w, t, p=_prep: [p(w, t)]),
        Case(f"split:{_cid}", "split_data_dir", lambda w, t, p=_prep: [p(w, t), 2],
             ["in/split2"]),
        Case(f"copy:{_cid}", "copy_data_dir", lambda w, t, p=_prep: [p(w, t), t / "out"],
             ["out"]),
        Case(f"subset:{_cid}", "subset_data_dir",
             lambda w, t, p=_prep: ["--utt-list", w / "data" / "utt2spk", p(w, t), t / "out"],
             ["out"]),
        Case(f"combine:{_cid}", "combine_data_dir", lambda w, t, p=_prep: [t / "out", p(w, t)],
             ["out"]),
        Case(f"resample:{_cid}", "resample_data_dir",
             lambda w, t, p=_prep: [p(w, t), t / "out", t / "wavs"], ["out"]),
        Case(f"augment:{_cid}", "augment_data_dir",
             lambda w, t, p=_prep: ["--musan", w / "musan", "--rirs", w / "rirs", p(w, t),
                                    t / "crops", t / "aug"], ["crops", "aug"]),
        Case(f"extract:{_cid}", "extract", lambda w, t, p=_prep: [
            "--config", REPO / "egs/mini/seed/conf/test_tiny_ecapa.yaml",
            "--allow-random-weights", "--no-progress", p(w, t), f"ark,scp:{t}/x.ark,{t}/x.scp"],
            ["x.ark", "x.scp"]),
    ]


# --- data-dir tools: their own options ---------------------------------------------------------
@case("split:not-speaker-sorted", "split_data_dir", ["in/split2"], "out of speaker order")
def _(w, t):
    d = _copy_dir(w / "data", t / "in")
    (d / "utt2spk").write_text("s1-a s2\ns1-b s1\ns2-a s1\ns2-b s2\ns3-a s3\ns3-b s3\n")
    return [d, 2]


@case("split:zero-parts", "split_data_dir", ["data/split0"], "must be >= 1")
def _(w, t):
    return [_copy_dir(w / "data", t / "data"), 0]


@case("split:more-parts-than-speakers", "split_data_dir", ["data/split9"], "cannot split")
def _(w, t):
    return [_copy_dir(w / "data", t / "data"), 9]


@case("copy:spk-prefix-space", "copy_data_dir", ["out"], "whitespace")
def _(w, t):
    return ["--spk-prefix", "a b", w / "data", t / "out"]


@case("copy:utt-suffix-tab", "copy_data_dir", ["out"], "whitespace")
def _(w, t):
    return ["--utt-suffix", "x\ty", w / "data", t / "out"]


@case("copy:src-missing", "copy_data_dir", ["out"], "data directory not found")
def _(w, t):
    return [t / "missing", t / "out"]


@case("combine:key-in-two-sources", "combine_data_dir", ["out"], "in two of the data dirs")
def _(w, t):
    return [t / "out", w / "data", w / "data"]


@case("combine:repeated-key-other-speaker", "combine_data_dir", ["out"], "two different speakers")
def _(w, t):
    d = _copy_dir(w / "data", t / "in")
    (d / "utt2spk").write_text((d / "utt2spk").read_text().replace("s1-a s1", "s1-a s2"))
    return ["--allow-repeated-keys", "true", t / "out", w / "data", d]


@case("combine:repeated-key-other-audio", "combine_data_dir", ["out"], "differs from")
def _(w, t):
    d = _copy_dir(w / "data", t / "in")
    scp = (d / "wav.scp").read_text().splitlines()
    key, path = scp[0].split(" ", 1)
    other = scp[1].split(" ", 1)[1]
    (d / "wav.scp").write_text("\n".join([f"{key} {other}", *scp[1:]]) + "\n")
    return ["--allow-repeated-keys", "true", t / "out", w / "data", d]


@case("combine:segments-next-to-no-utt2dur", "combine_data_dir", ["out"], "needs utt2dur")
def _(w, t):
    seg = _copy_dir(w / "data", t / "seg")
    (seg / "segments").write_text("".join(
        f"{ln.split()[0]}-0 {ln.split()[0]} 0.0 0.2\n"
        for ln in (seg / "wav.scp").read_text().splitlines()))
    (seg / "utt2spk").write_text("".join(
        f"{ln.split()[0]}-0 {ln.split()[1]}\n"
        for ln in (seg / "utt2spk").read_text().splitlines()))
    (seg / "spk2utt").unlink(missing_ok=True)
    return [t / "out", seg, w / "rirs"]


@case("combine:flag-not-true-false", "combine_data_dir", ["out"], "expected true or false")
def _(w, t):
    return ["--allow-repeated-keys", "yes", t / "out", w / "data"]


@case("combine:src-missing", "combine_data_dir", ["out"], "data directory not found")
def _(w, t):
    return [t / "out", t / "missing"]


for _cid, _content in {"binary": BINARY, "png": PNG, "gzip": None, "empty": b"",
                       "latin1": LATIN1}.items():
    def _mk(content=_content):
        def prep(w, t):
            c = _gz(w / "data" / "utt2spk") if content is None else content
            return ["--utt-list", _write(t, "list", c), w / "data", t / "out"]
        return prep
    CASES.append(Case(f"subset:list-{_cid}", "subset_data_dir", _mk(), ["out"]))


# --- resample / augment / extract options -----------------------------------------------------
@case("resample:rate-0", "resample_data_dir", ["out"], "")
def _(w, t):
    return ["--sample-rate", 0, w / "data", t / "out", t / "wavs"]


@case("resample:job-beyond-nj", "resample_data_dir", ["out"], "")
def _(w, t):
    return ["--job", 3, "--nj", 2, w / "data", t / "out", t / "wavs"]


@case("resample:nj-0", "resample_data_dir", ["out"], "")
def _(w, t):
    return ["--job", 1, "--nj", 0, w / "data", t / "out", t / "wavs"]


@case("resample:corrupt-audio", "resample_data_dir", ["out"], "")
def _(w, t):
    d = _copy_dir(w / "data", t / "in")
    bad = _write(t, "bad.wav", b"RIFF\x00\x00\x00\x00WAVEjunk")
    (d / "wav.scp").write_text((w / "data" / "wav.scp").read_text().replace(
        str(w / "wav" / "s1-a.wav"), str(bad)))
    return [d, t / "out", t / "wavs"]


for _cid, _args in {"rounds-neg": ["--rounds", -1], "crop-0": ["--crop-sec", 0],
                    "crop-nan": ["--crop-sec", "nan"], "crop-inf": ["--crop-sec", "inf"],
                    "rate-0": ["--sample-rate", 0], "job-beyond": ["--job", 5, "--nj", 2]
                    }.items():
    CASES.append(Case(f"augment:{_cid}", "augment_data_dir", lambda w, t, a=_args: [
        *a, "--musan", w / "musan", "--rirs", w / "rirs", w / "data", t / "crops", t / "aug"],
        ["crops", "aug"]))

for _cid, _content in {"binary": BINARY, "gzip": None, "unsorted": b"noise-b noise\nmusic-a "
                       b"music\n"}.items():
    def _mk(content=_content):
        def prep(w, t):
            m = _copy_dir(w / "musan", t / "musan")
            (m / "utt2spk").write_bytes(_gz(w / "musan" / "utt2spk") if content is None
                                        else content)
            return ["--musan", m, "--rirs", w / "rirs", w / "data", t / "crops", t / "aug"]
        return prep
    CASES.append(Case(f"augment:musan-{_cid}", "augment_data_dir", _mk(), ["crops", "aug"]))

for _cid, _args in {"materialise-maybe": ["--materialise", "maybe"],
                    "fresh-crops-1": ["--fresh-crops", "1"]}.items():
    CASES.append(Case(f"augment:{_cid}", "augment_data_dir", lambda w, t, a=_args: [
        *a, "--musan", w / "musan", "--rirs", w / "rirs", w / "data", t / "crops", t / "aug"],
        ["crops", "aug"]))


def _render_spec(line: bytes, sources: bool = True):
    """A render.spec holding ``line`` (and render.sources naming world's dirs) -> argv."""
    def prep(w: Path, t: Path) -> list:
        if sources:
            _write(t, "render.sources", f"clean {w / 'data'}\nmusan {w / 'musan'}\nrirs "
                   f"{w / 'rirs'}\nsample_rate 16000\n".encode())
        return [_write(t, "render.spec", line), "s1-a-music1"]
    return prep


_GOOD_MUSIC = b"s1-a-music1 s1-a 0 32240 music music-a 0 7.5\n"
for _cid, (_prep, _words) in {
    "spec-missing": (lambda w, t: [t / "none.spec", "k"], "render spec not found"),
    "spec-empty": (_render_spec(b""), "empty render spec"),
    "spec-binary": (_render_spec(BINARY), "binary"),
    "spec-png": (_render_spec(PNG), "PNG"),
    "spec-truncated": (_render_spec(_GOOD_MUSIC[:-12]), "expected 8 fields"),
    "spec-no-newline": (_render_spec(_GOOD_MUSIC[:-1]), "truncated"),
    "snr-not-numeric": (_render_spec(_GOOD_MUSIC.replace(b"7.5", b"loud")), "SNR"),
    "key-missing": (_render_spec(_GOOD_MUSIC.replace(b"s1-a-music1 ", b"s1-b-music1 ")),
                    "no line for key"),
    "recording-missing": (_render_spec(_GOOD_MUSIC.replace(b"music-a", b"music-z")),
                          "not in the MUSAN data dir"),
    "utterance-missing": (_render_spec(_GOOD_MUSIC.replace(b" s1-a ", b" s9-a ")),
                          "not in the clean data dir"),
    "sources-missing": (_render_spec(_GOOD_MUSIC, sources=False), "render sources table"),
    "no-key": (lambda w, t: [_write(t, "render.spec", _GOOD_MUSIC)], "SPEC KEY"),
    "check-dir-spec-missing": (lambda w, t: ["--check-dir", _datadir(t / "d", {
        "s1-a": (f"seedkit-render-wav {t / 'none.spec'} s1-a |", "s1")}) or t / "d"],
        "render spec not found"),
}.items():
    CASES.append(Case(f"render-wav:{_cid}", "render_wav", _prep, [], _words))

_EXTRACT = ["--allow-random-weights", "--no-progress"]
_TINY = REPO / "egs/mini/seed/conf/test_tiny_ecapa.yaml"
for _cid, _args in {"crop-bad": ["--crop", "multi:x:1"], "crop-zero": ["--crop", "random:0"],
                    "batch-0": ["--batch-size", "0"], "device-bad": ["--device", "tpu"]}.items():
    CASES.append(Case(f"extract:{_cid}", "extract", lambda w, t, a=_args: [
        "--config", _TINY, *_EXTRACT, *a, w / "data", f"ark,scp:{t}/x.ark,{t}/x.scp"],
        ["x.ark", "x.scp"]))

_CONF_BAD = {
    "conf-png": PNG, "conf-gzip": gzip.compress(_TINY.read_bytes()), "conf-empty": b"",
    "conf-list": b"- a\n- b\n", "conf-neg-embed": b"model: ECAPA_TDNN\nembed_dim: -4\n",
    "conf-bad-arg": b"model: ECAPA_TDNN\nmodel_args: {C: -8}\ncheckpoint: null\n",
    "conf-huge-arg": b"model: ECAPA_TDNN\nmodel_args: {C: 99999999999}\n",
    "conf-rate-0": b"model: ECAPA_TDNN\nsample_rate: 0\n",
    "conf-nan-scale": b"model: ECAPA_TDNN\ninput_scale: .nan\n",
    "conf-unknown-model": b"model: NoSuchNet\n",
    "conf-checkpoint-png": None,
}
for _cid, _content in _CONF_BAD.items():
    def _mk(content=_content):
        def prep(w, t):
            if content is None:
                ck = _write(t, "w.pt", PNG)
                c = _TINY.read_text().replace("checkpoint: null", f"checkpoint: {ck}").encode()
            else:
                c = content
            return ["--config", _write(t, "bb.yaml", c), *_EXTRACT, w / "data",
                    f"ark,scp:{t}/x.ark,{t}/x.scp"]
        return prep
    CASES.append(Case(f"extract:{_cid}", "extract", _mk(), ["x.ark", "x.scp"]))


# --- embeddings in: enhance, train-plda, score, merge ----------------------------------------
def _rspec_bad(kind: str):
    """An rspecifier that is wrong in the way ``kind`` says."""
    def f(w: Path, t: Path) -> str:
        if kind == "ark-as-scp":
            return f"scp:{w}/emb.ark"
        if kind == "scp-gzip":
            return f"scp:{_write(t, 'x.scp', _gz(w / 'emb.scp'))}"
        if kind == "scp-png":
            return f"scp:{_write(t, 'x.scp', PNG)}"
        if kind == "scp-latin1":
            return f"scp:{_write(t, 'x.scp', LATIN1)}"
        if kind == "scp-empty-line":
            return "scp:" + str(_write(t, "x.scp", (w / "emb.scp").read_bytes() + b"\n\n"))
        if kind == "scp-bad-offset":
            return "scp:" + str(_write(t, "x.scp", f"a {w}/emb.ark:999999\n".encode()))
        if kind == "ark-truncated":
            return f"ark:{_write(t, 'x.ark', (w / 'emb.ark').read_bytes()[:30])}"
        if kind == "ark-text":
            return "ark:" + str(_write(t, "x.ark", b"hello world\n"))
        if kind == "ark-png":
            return f"ark:{_write(t, 'x.ark', PNG)}"
        if kind == "ark-empty":
            return f"ark:{_write(t, 'x.ark', b'')}"
        if kind == "ark-gzip":
            return f"ark:{_write(t, 'x.ark', _gz(w / 'emb.ark'))}"
        if kind == "nan":
            with EmbeddingWriter(f"ark:{t}/nan.ark") as wr:
                wr.write("s1-a", np.array([np.nan] * 8, np.float32))
            return f"ark:{t}/nan.ark"
        if kind == "missing":
            return f"scp:{t}/nope.scp"
        if kind == "no-prefix":
            return f"{w}/emb.scp"
        raise AssertionError(kind)
    return f


RSPEC_BAD = ["ark-as-scp", "scp-gzip", "scp-png", "scp-latin1", "scp-empty-line",
             "scp-bad-offset", "ark-truncated", "ark-text", "ark-png", "ark-empty", "ark-gzip",
             "nan", "missing", "no-prefix"]

for _k in RSPEC_BAD:
    _r = _rspec_bad(_k)
    CASES += [
        Case(f"enhance:{_k}", "enhance", lambda w, t, r=_r: [
            w / "final.pt", r(w, t), f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"]),
        Case(f"train-plda:{_k}", "train_plda", lambda w, t, r=_r: [
            r(w, t), w / "data" / "utt2spk", t / "plda"], ["plda"]),
        Case(f"score:{_k}", "score", lambda w, t, r=_r: [
            w / "trials", r(w, t), f"scp:{w}/emb.scp", t / "scores"], ["scores"]),
        Case(f"train-seed:{_k}", "train_seed", lambda w, t, r=_r: [
            "--clean", r(w, t), "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
            "--device", "cpu", "--set", "epochs=1", t / "exp"], ["exp/final.pt"]),
    ]

for _cid, _args in {"steps-2000": ["--steps", "2000"], "steps-0": ["--steps", "0"],
                    "t-star-1000": ["--t-star", "1000"], "t-star-neg": ["--t-star", "-1"],
                    "batch-0": ["--batch-size", "0"], "fe-nan": ["--feature-ensemble", "nan"],
                    "fe-neg": ["--feature-ensemble", "-1"], "device-bad": ["--device", "tpu"],
                    }.items():
    CASES.append(Case(f"enhance:{_cid}", "enhance", lambda w, t, a=_args: [
        *a, w / "final.pt", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"],
        ["e.ark", "e.scp"]))

for _cid, _content in {"model-png": PNG, "model-empty": b"", "model-text": b"hello\n",
                       "model-truncated": None, "model-nan": "nan", "model-wrong-dim": "dim"
                       }.items():
    def _mk(content=_content):
        def prep(w, t):
            if content is None:
                m = _write(t, "m.pt", (w / "final.pt").read_bytes()[:200])
            elif content == "nan":
                obj = torch.load(w / "final.pt", weights_only=True)
                next(iter(obj["model"].values())).fill_(float("nan"))
                m = t / "m.pt"
                torch.save(obj, m)
            elif content == "dim":
                m = t / "m.pt"
                _seed_model(m, dim=4)
            else:
                m = _write(t, "m.pt", content)
            return [m, f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"]
        return prep
    CASES.append(Case(f"enhance:{_cid}", "enhance", _mk(), ["e.ark", "e.scp"]))

for _cid, _content in {"config-png": PNG, "config-dropout": b"dropout: 1.5\n",
                       "config-binary": BINARY}.items():
    CASES.append(Case(f"enhance:{_cid}", "enhance", lambda w, t, c=_content: [
        "--config", _write(t, "c.yaml", c), w / "final.pt", f"scp:{w}/emb.scp",
        f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"]))

# train-seed: config values and the pair list
for _cid, _extra in {"dropout": ["--set", "dropout=1.5"], "adam-eps": ["--set", "adam_eps=-1e-8"],
                     "lr-nan": ["--set", "lr=nan"], "betas": ["--adam-betas", "[0.9, 2]"],
                     "unknown-key": ["--set", "dropuot=0.1"], "seed-neg": ["--seed", "-1"],
                     "device-bad": ["--device", "tpu"], "beta-end-1": ["--beta-end", "1.0"]
                     }.items():
    CASES.append(Case(f"train-seed:{_cid}", "train_seed", lambda w, t, e=_extra: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs",
        w / "utt2clean", "--device", "cpu", "--set", "epochs=1", *e, t / "exp"],
        ["exp/final.pt"]))
for _cid, _content in {"pairs-binary": BINARY, "pairs-gzip": None, "pairs-empty": b"",
                       "pairs-three-fields": b"s1-a s1-a x\n", "pairs-unknown-key": b"zz s1-a\n",
                       "config-png": "cfg"}.items():
    def _mk(content=_content):
        def prep(w, t):
            extra = []
            pairs = w / "utt2clean"
            if content == "cfg":
                extra = ["--config", _write(t, "c.yaml", PNG)]
            else:
                pairs = _write(t, "pairs", _gz(w / "utt2clean") if content is None else content)
            return ["--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs",
                    pairs, "--device", "cpu", "--set", "epochs=1", *extra, t / "exp"]
        return prep
    CASES.append(Case(f"train-seed:{_cid}", "train_seed", _mk(), ["exp/final.pt"]))

# train-plda: degenerate data and options
for _cid, _args in {"num-iters-0": ["--num-iters", "0"], "lda-neg": ["--lda-dim", "-1"],
                    "lda-too-big": ["--lda-dim", "50"]}.items():
    CASES.append(Case(f"train-plda:{_cid}", "train_plda", lambda w, t, a=_args: [
        *a, f"scp:{w}/emb.scp", w / "data" / "utt2spk", t / "plda"], ["plda"]))


@case("train-plda:no-within-variance", "train_plda", ["plda"], "within-speaker")
def _(w, t):
    rng = np.random.default_rng(1)
    with EmbeddingWriter(f"ark:{t}/d.ark") as wr:
        for s in range(4):
            v = rng.standard_normal(3).astype(np.float32)
            for u in range(3):
                wr.write(f"s{s}-{u}", v)
    (t / "u2s").write_text("".join(f"s{s}-{u} s{s}\n" for s in range(4) for u in range(3)))
    return [f"ark:{t}/d.ark", t / "u2s", t / "plda"]


@case("train-plda:one-speaker", "train_plda", ["plda"], "at least 2 speakers")
def _(w, t):
    (t / "u2s").write_text("".join(f"{u} s\n" for u in ("s1-a", "s1-b", "s2-a", "s2-b",
                                                        "s3-a", "s3-b")))
    return [f"scp:{w}/emb.scp", t / "u2s", t / "plda"]


for _cid, _content in {"utt2spk-binary": BINARY, "utt2spk-gzip": None,
                       "utt2spk-no-match": b"zz z\n"}.items():
    CASES.append(Case(f"train-plda:{_cid}", "train_plda", lambda w, t, c=_content: [
        f"scp:{w}/emb.scp", _write(t, "u2s", _gz(w / "data/utt2spk") if c is None else c),
        t / "plda"], ["plda"]))

# score: trials and models
TEXT_BAD = {"binary": BINARY, "png": PNG, "empty": b"", "latin1": LATIN1,
            "utf16": "s1-a s1-b target\n".encode("utf-16"), "ark": ARK,
            "bzip2": b"BZh91AY&SY\x00\x01\xff\xfe", "blank-only": b"\n\n"}
for _cid, _content in {**TEXT_BAD, "two-fields-then-three": b"s1-a s1-b\ns1-a s2-a target\n",
                       "label-bad": b"s1-a s1-b maybe\n", "key-unknown": b"zz s1-b target\n",
                       "gzip-truncated": gzip.compress(b"s1-a s1-b target\n" * 50)[:20],
                       }.items():
    CASES.append(Case(f"score:trials-{_cid}", "score", lambda w, t, c=_content: [
        _write(t, "trials", c), f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t / "scores"],
        ["scores"]))
for _cid, _args in {"plda-png": "png", "plda-missing": "missing", "plda-nan": "nan",
                    "plda-dim": "dim", "wrong-dim-test": "dimtest", "chunk-0": "chunk",
                    "top-n-0": "topn"}.items():
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
                model = _write(t, "plda", PNG)
            elif kind == "missing":
                model = t / "nope"
            elif kind == "nan":
                z = dict(np.load(w / "plda"))
                z["phi_b"] = z["phi_b"] * np.nan
                buf = io.BytesIO()
                np.savez(buf, **z)
                model = _write(t, "plda", buf.getvalue())
            else:
                model = w / "plda"
                return ["--method", "plda", "--plda", model, w / "trials", f"scp:{w}/emb4.scp",
                        f"scp:{w}/emb4.scp", t / "scores"]
            return ["--method", "plda", "--plda", model, w / "trials", f"scp:{w}/emb.scp",
                    f"scp:{w}/emb.scp", t / "scores"]
        return prep
    CASES.append(Case(f"score:{_cid}", "score", _mk(), ["scores"]))

# metrics / plot-det / results-table
SCORES_BAD = {"binary": BINARY, "png": PNG, "empty": b"", "latin1": LATIN1, "ark": ARK,
              "nan": b"s1-a s1-b nan\n", "two-fields": b"s1-a s1-b\n",
              "not-number": b"s1-a s1-b high\n", "utf16": "s1-a s1-b 1\n".encode("utf-16"),
              "xz": b"\xfd7zXZ\x00\x00\x04"}
for _cid, _content in SCORES_BAD.items():
    CASES.append(Case(f"metrics:scores-{_cid}", "metrics", lambda w, t, c=_content: [
        "--json", t / "m.json", _write(t, "scores", c), w / "trials"], ["m.json"]))
    CASES.append(Case(f"plot-det:scores-{_cid}", "plot_det", lambda w, t, c=_content: [
        "--trials", w / "trials", _write(t, "scores", c), t / "det.png"], ["det.png"]))
for _cid, _content in TEXT_BAD.items():
    CASES.append(Case(f"metrics:trials-{_cid}", "metrics", lambda w, t, c=_content: [
        "--json", t / "m.json", w / "scores", _write(t, "trials", c)], ["m.json"]))
CASES.append(Case("metrics:trials-crlf", "metrics", lambda w, t: [
    w / "scores", _write(t, "trials", (w / "trials").read_bytes().replace(b"\n", b"\r\n"))]))
CASES.append(Case("metrics:trials-bom", "metrics", lambda w, t: [
    w / "scores", _write(t, "trials", b"\xef\xbb\xbf" + (w / "trials").read_bytes())]))
for _cid, _p in {"p-1.5": "1.5", "p-0": "0", "p-nan": "nan", "p-word": "x"}.items():
    CASES.append(Case(f"metrics:{_cid}", "metrics", lambda w, t, p=_p: [
        "--p-target", p, "--json", t / "m.json", w / "scores", w / "trials"], ["m.json"]))
for _cid, _content in {"png": PNG, "binary": BINARY, "truncated": b'{"eer_percent": 5',
                       "list": b"[1, 2]", "empty": b"", "latin1": b'{"a": "caf\xe9"}',
                       "eer-text": b'{"eer_percent": "x", "min_dcf": {}}',
                       "dcf-null": b'{"eer_percent": 1, "min_dcf": {"0.01": null}}',
                       "dcf-float": b'{"eer_percent": 1, "min_dcf": {"0.01": 0.5}}',
                       "eer-nan": b'{"eer_percent": NaN, "min_dcf": {}}'}.items():
    CASES.append(Case(f"results-table:json-{_cid}", "results_table", lambda w, t, c=_content: [
        "--baseline", "base", "--out", t / "R.md",
        f"base:test={w / 'metrics.json'}", f"seed:test={_write(t, 'm.json', c)}"], ["R.md"]))

# make-vcmix
for _cid, _what in {"vox-key-missing": "vox", "vc-key-missing": "vc", "trials-binary": "bin",
                    "trials-png": "png", "vc-utt2spk-unsorted": "unsorted"}.items():
    def _mk(what=_what):
        def prep(w, t):
            vox = _copy_dir(w / "vox1", t / "vox1")
            vc = _copy_dir(w / "vc", t / "vc")
            if what == "vox":
                (vox / "trials").write_text("s1-a s1-b target\ns1-a zz target\n")
            elif what == "vc":
                (vc / "trials").write_text("c0-x zz nontarget\n")
            elif what == "bin":
                (vc / "trials").write_bytes(BINARY)
            elif what == "png":
                (vox / "trials").write_bytes(PNG)
            else:
                (vc / "utt2spk").write_text("c1-x c1-x\nc0-x c0-x\n")
            return [vox, vc, t / "vcmix"]
        return prep
    CASES.append(Case(f"make-vcmix:{_cid}", "make_vcmix", _mk(), ["vcmix"]))

# merge-embedding-scp
for _cid, _content in {"binary": BINARY, "ark": ARK, "gzip": None, "latin1": LATIN1}.items():
    CASES.append(Case(f"merge-scp:{_cid}", "merge_embedding_scp", lambda w, t, c=_content: [
        "--data", w / "data", t / "all.scp",
        _write(t, "1.scp", _gz(w / "emb.scp") if c is None else c)], ["all.scp"]))
CASES.append(Case("merge-scp:data-invalid", "merge_embedding_scp", lambda w, t: [
    "--data", _bad_table("utt2spk", BINARY)(w, t), t / "all.scp", w / "emb.scp"], ["all.scp"]))


# download / prepare
def _tar_bytes(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, linkname in members:
            info = tarfile.TarInfo(name)
            if linkname:
                info.type, info.linkname = tarfile.SYMTYPE, linkname
                tar.addfile(info)
            else:
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


for _cid, _members in {"symlink-up": [("small/evil", "../../.."), ("small/evil/f", None)],
                       "dotdot": [("../x", None)], "absolute": [("/tmp/seedkit-abs-x", None)]
                       }.items():
    CASES.append(Case(f"download:tar-{_cid}", "download_corpus", lambda w, t, m=_members: [
        "--url", _write(t, "small.tar", _tar_bytes(m)).as_uri(), "librilight", t / "corpora"],
        ["corpora/.seedkit_librilight.complete", "corpora/librilight/small"]))
CASES.append(Case("download:not-a-tar", "download_corpus", lambda w, t: [
    "--url", _write(t, "small.tar", PNG).as_uri(), "librilight", t / "corpora"],
    ["corpora/.seedkit_librilight.complete"]))
CASES.append(Case("download:on-disk-missing", "download_corpus", lambda w, t: [
    "--on-disk", t / "nope", "musan", t / "corpora"], ["corpora/.seedkit_musan.complete"]))
CASES.append(Case("download:md5-mismatch", "download_corpus", lambda w, t: [
    "--url", _write(t, "small.tar", _tar_bytes([("small/a", None)])).as_uri(), "--md5", "0" * 32,
    "librilight", t / "corpora"], ["corpora/.seedkit_librilight.complete"]))
CASES.append(Case("prepare:corpus-missing", "prepare_corpus", lambda w, t: [
    "musan", t / "nope", t / "data"], ["data/musan"]))
CASES.append(Case("prepare:nj-0", "prepare_corpus", lambda w, t: [
    "--nj", "0", "musan", t / "nope", t / "data"], ["data/musan"]))
CASES.append(Case("prepare-mini:corpus-missing", "prepare_mini_corpus", lambda w, t: [
    t / "nope", t / "data"], ["data/train"]))
for _cid, _content in {"png": PNG, "list": b"- 1\n", "gzip": gzip.compress(b"seed: 1\n"),
                       "unknown-key": b"no_such_key: 1\n"}.items():
    CASES.append(Case(f"make-mini-corpus:config-{_cid}", "make_mini_corpus",
                      lambda w, t, c=_content: ["--config", _write(t, "c.yaml", c),
                                                t / "corpus"], ["corpus"]))
for _cid, _content in {"seed-text": b"seed: x\n", "snrs-text": b"snrs: [a]\n",
                       "level-list": b"level_dbfs: [1, 2]\n"}.items():
    CASES.append(Case(f"make-mini-corpus:config-{_cid}", "make_mini_corpus",
                      lambda w, t, c=_content: ["--config", _write(t, "c.yaml", c),
                                                t / "corpus"], ["corpus"]))
for _cid, _args in {"speakers-0": ["--num-train-speakers", "0"],
                    "min-dur-neg": ["--min-dur", "-1"], "jobs-0": ["--jobs", "0"],
                    "babble-one-value": ["--babble-talkers", "0"],
                    "level-nan": ["--level-dbfs", "nan"], "level-positive": ["--level-dbfs", "6"],
                    "mix-snr-inf": ["--mix-snr", "inf"], "mix-snr-reversed": ["--mix-snr", "20,10"],
                    "seed-neg": ["--seed", "-1"], "noise-dur-one": ["--noise-dur", "1"],
                    "speed-jitter-1": ["--utt-speed-jitter", "1.5"],
                    "snrs-text": ["--snrs", "a,b"], "max-dur-huge": ["--max-dur", "1e9"],
                    "trials-odd": ["--trials-per-set", "7"]}.items():
    CASES.append(Case(f"make-mini-corpus:{_cid}", "make_mini_corpus",
                      lambda w, t, a=_args: [*a, t / "corpus"], ["corpus"]))
CASES.append(Case("make-real-layout:scale-0", "make_real_layout", lambda w, t: [
    "--scale", "0", t / "root"], ["root"]))
CASES.append(Case("make-heldout-sets:corpus-missing", "make_heldout_sets", lambda w, t: [
    t / "nope", t / "heldout"], ["heldout"]))


# --- more cases from trying commands as a careless user would --------------------------------
_TS = ["--device", "cpu", "--set", "epochs=1"]


def _audio_dd(kind: str):
    def prep(w, t):
        d = _copy_dir(w / "data", t / "in")
        keys = [ln.split()[0] for ln in (d / "utt2spk").read_text().splitlines()]
        if kind == "stereo":
            sf.write(t / "a.wav", np.zeros((800, 2)), 16000)
        elif kind == "8k":
            sf.write(t / "a.wav", np.zeros(800), 8000)
        elif kind == "empty":
            sf.write(t / "a.wav", np.zeros(0), 16000)
        elif kind == "png":
            (t / "a.wav").write_bytes(PNG)
        if kind == "pipe-fails":
            entry = "false |"
        elif kind == "dir":
            entry = str(t)
        else:
            entry = str(t / "a.wav")
        (d / "wav.scp").write_text("".join(f"{k} {entry}\n" for k in keys))
        return d
    return prep


for _kind in ("stereo", "8k", "empty", "png", "pipe-fails", "dir"):
    CASES.append(Case(f"extract:audio-{_kind}", "extract", lambda w, t, p=_audio_dd(_kind): [
        "--config", _TINY, *_EXTRACT, p(w, t), f"ark,scp:{t}/x.ark,{t}/x.scp"],
        ["x.ark", "x.scp"]))
    if _kind not in ("stereo", "8k"):  # what resampling is for
        CASES.append(Case(f"resample:audio-{_kind}", "resample_data_dir",
                          lambda w, t, p=_audio_dd(_kind): [p(w, t), t / "out", t / "wavs"],
                          ["out"]))
for _cid, (_table, _content) in {
        "segments-reversed": ("segments", "s1-a s1-a 2 1\n"),
        "utt2dur-negative": ("utt2dur", "".join(f"s{s}-{u} -1\n" for s in (1, 2, 3)
                                                for u in "ab")),
        "utt2dur-nan": ("utt2dur", "".join(f"s{s}-{u} nan\n" for s in (1, 2, 3) for u in "ab")),
        "spk2utt-disagrees": ("spk2utt", "s1 s1-a\ns2 s2-a s2-b s1-b\ns3 s3-a s3-b\n"),
        "utt2clean-extra-key": ("utt2clean", "zz zz\n"),
        }.items():
    CASES.append(Case(f"validate:{_cid}", "validate_data_dir", lambda w, t, n=_table,
                      c=_content: [_bad_table(n, c.encode())(w, t)]))
CASES += [
    Case("validate:wav-is-dir", "validate_data_dir", lambda w, t: [_audio_dd("dir")(w, t)]),
    Case("train-seed:network-huge", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        *_TS, "--set", "model_channels=1000000", t / "exp"], ["exp/final.pt"]),
    Case("train-seed:dev-trials-png", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        *_TS, "--dev-trials", _write(t, "dev", PNG), "--dev-enroll", f"scp:{w}/emb.scp",
        t / "exp"], ["exp/final.pt"]),
    Case("train-seed:noisy-other-dim", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb4.scp", "--pairs",
        w / "utt2clean", *_TS, t / "exp"], ["exp/final.pt"]),
    Case("train-seed:embed-dim-mismatch", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs",
        w / "utt2clean", *_TS, "--set", "embed_dim=4", t / "exp"], ["exp/final.pt"]),
    Case("score:asnorm-no-cohort", "score", lambda w, t: [
        "--method", "asnorm", w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb.scp",
        t / "s"], ["s"]),
    Case("score:cohort-other-dim", "score", lambda w, t: [
        "--method", "asnorm", "--cohort", f"scp:{w}/emb4.scp", w / "trials",
        f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t / "s"], ["s"]),
    Case("score:mean-from-other-dim", "score", lambda w, t: [
        "--mean-from", f"scp:{w}/emb4.scp", w / "trials", f"scp:{w}/emb.scp",
        f"scp:{w}/emb.scp", t / "s"], ["s"]),
    Case("score:out-is-dir", "score", lambda w, t: [
        w / "trials", f"scp:{w}/emb.scp", f"scp:{w}/emb.scp", t], []),
    Case("metrics:all-target", "metrics", lambda w, t: [
        "--json", t / "m.json", _write(t, "sc", b"s1-a s1-b 0.9\n"),
        _write(t, "tr", b"s1-a s1-b target\n")], ["m.json"]),
    Case("metrics:fewer-scores", "metrics", lambda w, t: [
        "--json", t / "m.json", _write(t, "sc", b"s1-a s1-b 0.9\n"), w / "trials"], ["m.json"]),
    Case("metrics:duplicate-scores", "metrics", lambda w, t: [
        "--json", t / "m.json", _write(t, "sc", (w / "scores").read_bytes() * 2), w / "trials"],
        ["m.json"]),
    Case("metrics:inf-score", "metrics", lambda w, t: [
        "--json", t / "m.json", _write(t, "sc", b"s1-a s1-b 1e999\n"), w / "trials"],
        ["m.json"]),
    Case("results-table:bad-arg", "results_table", lambda w, t: [
        "--baseline", "base", "--out", t / "R.md", "base"], ["R.md"]),
    Case("results-table:baseline-missing", "results_table", lambda w, t: [
        "--baseline", "nope", "--out", t / "R.md", f"base:test={w / 'metrics.json'}"],
        ["R.md"]),
    Case("results-table:dir-without-metrics", "results_table", lambda w, t: [
        "--baseline", "base", "--out", t / "R.md", f"base={t}"], ["R.md"]),
    Case("enhance:noise-other-shape", "enhance", lambda w, t: [
        "--noise", f"scp:{w}/emb4.scp", w / "final.pt", f"scp:{w}/emb.scp",
        f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"]),
    Case("enhance:input-other-dim", "enhance", lambda w, t: [
        w / "final.pt", f"scp:{w}/emb4.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"],
        ["e.ark", "e.scp"]),
    Case("enhance:bad-wspecifier", "enhance", lambda w, t: [
        w / "final.pt", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark"], ["e.ark"]),
    Case("enhance:model-is-plda", "enhance", lambda w, t: [
        w / "plda", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"]),
    Case("enhance:model-is-ark", "enhance", lambda w, t: [
        w / "emb.ark", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"]),
    Case("make-vcmix:same-dir-twice", "make_vcmix", lambda w, t: [
        w / "vox1", w / "vox1", t / "vcmix"], ["vcmix"]),
    Case("enhance:wspecifier-same-file", "enhance", lambda w, t: [
        w / "final.pt", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.ark"], ["e.ark"]),
    Case("enhance:output-is-model", "enhance", lambda w, t: [
        _copy_model(w, t), f"scp:{w}/emb.scp", f"ark:{t}/m.pt"], []),
    Case("score:output-is-trials", "score", lambda w, t: [
        _write(t, "trials", (w / "trials").read_bytes()), f"scp:{w}/emb.scp",
        f"scp:{w}/emb.scp", t / "trials"], []),
    Case("metrics:json-is-scores", "metrics", lambda w, t: [
        "--json", t / "s", _write(t, "s", (w / "scores").read_bytes()), w / "trials"], []),
    Case("train-plda:output-is-utt2spk", "train_plda", lambda w, t: [
        f"scp:{w}/emb.scp", _write(t, "u2s", (w / "data/utt2spk").read_bytes()), t / "u2s"],
        []),
    Case("train-seed:epochs-0", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        "--device", "cpu", "--epochs", "0", t / "exp"], ["exp/final.pt"]),
    Case("merge-scp:duplicate-keys", "merge_embedding_scp", lambda w, t: [
        t / "all.scp", w / "emb.scp", w / "emb.scp"], ["all.scp"]),
]


# train-seed --on-the-fly: the clean/MUSAN/RIR data dirs and the backbone conf are its inputs
def _otf(**over) -> Callable:
    def args(w: Path, t: Path) -> list:
        opts = {"--train-data": w / "data", "--musan": w / "musan", "--rirs": w / "rirs",
                "--backbone-config": REPO / "egs/mini/seed/conf/test_tiny_ecapa.yaml"}
        for k, v in over.items():
            opts["--" + k.replace("_", "-")] = v(w, t) if callable(v) else v
        flat = [x for k, v in opts.items() if v is not None for x in (k, v)]
        return ["--on-the-fly", *flat, "--allow-random-backbone", "--crop-sec", "0.25",
                "--batch-size", "8", *_TS, t / "exp"]
    return args


def _empty_dir(w: Path, t: Path) -> Path:
    (t / "empty").mkdir(exist_ok=True)
    return t / "empty"


def _bad_utt2spk(w: Path, t: Path) -> Path:
    d = t / "bad_data"
    d.mkdir(exist_ok=True)
    (d / "wav.scp").write_bytes((w / "data/wav.scp").read_bytes())
    (d / "utt2spk").write_bytes(BINARY)
    return d


def _musan_without_music(w: Path, t: Path) -> Path:
    d = t / "musan_noise_only"
    _datadir(d, {"noise-b": (str(w / "wav" / "noise-b.wav"), "noise")})
    return d


for _cid, _over in {
        "otf-with-clean": ("cannot go with it", {"clean": lambda w, t: f"scp:{w}/emb.scp"}),
        "otf-no-musan": ("missing: --musan", {"musan": None}),
        "otf-train-data-missing": ("clean data dir not found",
                                   {"train_data": lambda w, t: t / "nowhere"}),
        "otf-train-data-empty-dir": ("no wav.scp", {"train_data": _empty_dir}),
        "otf-train-data-binary-utt2spk": ("binary", {"train_data": _bad_utt2spk}),
        "otf-musan-no-music": ("no music recordings", {"musan": _musan_without_music}),
        "otf-backbone-conf-png": ("PNG", {"backbone_config":
                                          lambda w, t: _write(t, "b.yaml", PNG)}),
        "otf-steps-per-epoch-0": ("--steps-per-epoch", {"steps_per_epoch": "0"}),
        "otf-render-threads-negative": ("--render-threads", {"render_threads": "-1"}),
        }.items():
    CASES.append(Case(f"train-seed:{_cid}", "train_seed", _otf(**_over[1]), ["exp/final.pt"],
                      _over[0]))
CASES += [
    Case("train-seed:otf-option-without-otf", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        "--musan", w / "musan", *_TS, t / "exp"], ["exp/final.pt"], "only with --on-the-fly"),
    Case("train-seed:otf-batch-not-multiple-of-4", "train_seed", lambda w, t: [
        *_otf()(w, t)[:-1], "--batch-size", "6", t / "exp"], ["exp/final.pt"], "not a multiple"),
]


def _copy_model(w: Path, t: Path) -> Path:
    return _write(t, "m.pt", (w / "final.pt").read_bytes())


# Inputs accepted on purpose (each is run below and must succeed):
ACCEPTED = {
    # fix_data_dir's job is to sort tables and drop utterances missing from some table (Kaldi)
    "fix:utt2spk-unsorted": "sorted in place, as Kaldi's fix_data_dir.sh",
    "fix:wav.scp-missing-key": "utterances without audio dropped, as Kaldi's fix_data_dir.sh",
    # copy and subset write sorted tables, so an unsorted (but complete) source is harmless
    "copy:utt2spk-unsorted": "the copy is written sorted",
    "subset:utt2spk-unsorted": "the subset is written sorted",
    "combine:utt2spk-unsorted": "the union is written sorted",
    # seedkit-score --chunk only sizes the work; values below 1 mean 1
    "score:chunk-0": "--chunk below 1 is taken as 1",
    # CRLF line ends and a UTF-8 byte-order mark (Windows editors) are read as plain text
    "metrics:trials-crlf": "CRLF line ends are read as LF",
    "metrics:trials-bom": "a UTF-8 byte-order mark is dropped",
}
ACCEPTED_CASES = [c for c in CASES if c.id in ACCEPTED]
CASES = [c for c in CASES if c.id not in ACCEPTED]


# ----------------------------------------------------------------------------- the tests

# --- seedkit-export-onnx: not a SEED/backbone model, a DDIM config, output = input ------------
CASES += [
    Case("export-onnx:model-is-plda", "export_onnx", lambda w, t: [w / "plda", t / "m.onnx"],
         ["m.onnx"], "not a SEED checkpoint"),
    Case("export-onnx:model-is-ark", "export_onnx", lambda w, t: [w / "emb.ark", t / "m.onnx"],
         ["m.onnx"]),
    Case("export-onnx:output-is-model", "export_onnx",
         lambda w, t: (lambda m: [m, m])(_copy_model(w, t)), [], "also an input"),
    Case("export-onnx:no-output", "export_onnx", lambda w, t: [w / "final.pt"], []),
    Case("export-onnx:ddim-config", "export_onnx", lambda w, t: [
        "--config", _write(t, "c.yaml", b"sample_steps: 5\n"), w / "final.pt", t / "m.onnx"],
        ["m.onnx"], "one-step"),
    Case("export-onnx:release-backbone-unknown", "export_onnx", lambda w, t: [
        "--backbone", _write(t, "r.yaml", b"backbone: RawNet3\nnOut: 256\nn_mels: 80\n"),
        t / "b.onnx"], ["b.onnx"], "unknown backbone 'RawNet3'"),
]

@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, world, tmp_path, capsys, monkeypatch):
    t = tmp_path / "t"
    t.mkdir()
    monkeypatch.chdir(t)
    argv = [str(a) for a in c.prepare(world, t)]
    module = importlib.import_module(f"seedkit.bin.{c.module}")
    prog = "seedkit-" + c.module.replace("_", "-")
    status = run_main(module.main, prog=prog, argv=argv)
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("ERROR")]
    assert status != 0, f"exit 0 on bad input; stderr:\n{err}"
    assert len(errors) == 1, err
    assert errors[0].startswith(f"ERROR ({prog}): ")
    assert "Traceback" not in err
    if c.words:
        assert c.words in errors[0], errors[0]
    for out in c.outputs:
        assert not (t / out).exists(), f"{out} left behind"


@pytest.mark.parametrize("c", ACCEPTED_CASES, ids=[c.id for c in ACCEPTED_CASES])
def test_accepted_input(c: Case, world, tmp_path, capsys, monkeypatch):
    t = tmp_path / "t"
    t.mkdir()
    monkeypatch.chdir(t)
    argv = [str(a) for a in c.prepare(world, t)]
    module = importlib.import_module(f"seedkit.bin.{c.module}")
    status = run_main(module.main, prog=c.module, argv=argv)
    assert status == 0, capsys.readouterr().err
    if c.module in ("copy_data_dir", "subset_data_dir", "combine_data_dir"):
        from seedkit.data.datadir import validate_data_dir

        validate_data_dir(t / "out", check_files=False)


def test_cases_per_command():
    """The table is broad: every console script has its cases (counts in the docs)."""
    per: dict[str, int] = {}
    for c in CASES:
        per[c.module] = per.get(c.module, 0) + 1
    bins = {p.stem for p in (REPO / "seedkit" / "bin").glob("*.py") if p.stem != "__init__"}
    assert bins <= set(per), sorted(bins - set(per))
    assert len(CASES) >= 300
    assert len(ACCEPTED_CASES) == len(ACCEPTED)


# A few as real processes: the console scripts themselves, no traceback, status and one line.
@pytest.mark.parametrize("script,make", [
    ("seedkit-score", lambda w, t: [_write(t, "trials", PNG), f"scp:{w}/emb.scp",
                                    f"scp:{w}/emb.scp", t / "scores"]),
    ("seedkit-enhance", lambda w, t: [w / "final.pt", f"scp:{w}/emb.ark",
                                      f"ark,scp:{t}/e.ark,{t}/e.scp"]),
    ("seedkit-validate-data-dir", lambda w, t: [_bad_table("utt2spk", BINARY)(w, t)]),
    ("seedkit-train-plda", lambda w, t: [f"scp:{w}/emb.scp",
                                         _write(t, "u2s", _gz(w / "data/utt2spk")), t / "plda"]),
], ids=["score", "enhance", "validate", "train-plda"])
def test_console_scripts(script, make, world, tmp_path):
    argv = [str(a) for a in make(world, tmp_path)]
    proc = subprocess.run([str(VENV_BIN / script), *argv], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_shell_wrappers_error_form(world, tmp_path):
    d = _bad_table("utt2spk", BINARY)(world, tmp_path)
    for tool, args in (("validate_data_dir.sh", [d]), ("fix_data_dir.sh", [d]),
                       ("split_data.sh", [d, 2]),
                       ("copy_data_dir.sh", ["--spk-prefix", "a b", world / "data",
                                             tmp_path / "out"])):
        proc = subprocess.run([str(REPO / "utils" / tool), *map(str, args)],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={"PATH": f"{VENV_BIN}:/usr/bin:/bin"})
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR (")]
        assert proc.returncode != 0 and len(errors) == 1, (tool, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


if __name__ == "__main__":  # pragma: no cover - print the per-command counts
    counts: dict[str, int] = {}
    for c in CASES:
        counts[c.module] = counts.get(c.module, 0) + 1
    for k in sorted(counts):
        print(f"{k:24s} {counts[k]}")
    print("total", len(CASES), file=sys.stderr)


@pytest.mark.parametrize("table,content", [
    ("wav.scp", b"s1-a /x.wav\n"), ("utt2spk", b"s1-b s1\ns1-a s1\n"),
    ("utt2spk", BINARY), ("segments", b"s1-a s1-a 2 1\n")])
def test_data_dir_users_report_what_validate_reports(world, tmp_path, capsys, table, content):
    """resample, augment and extract say exactly what seedkit-validate-data-dir says."""
    d = _bad_table(table, content)(world, tmp_path)
    runs = {"validate_data_dir": ["--no-spk-sort", "--no-check-files", d],
            "resample_data_dir": [d, tmp_path / "out", tmp_path / "wavs"],
            "augment_data_dir": ["--musan", world / "musan", "--rirs", world / "rirs", d,
                                 tmp_path / "crops", tmp_path / "aug"],
            "extract": ["--config", _TINY, *_EXTRACT, d, f"ark:{tmp_path}/x.ark"]}
    said = set()
    for mod, argv in runs.items():
        module = importlib.import_module(f"seedkit.bin.{mod}")
        assert run_main(module.main, prog="p", argv=[str(a) for a in argv]) == 1
        said.add(tuple(ln for ln in capsys.readouterr().err.splitlines()
                       if ln.startswith("ERROR")))
    assert len(said) == 1, said
