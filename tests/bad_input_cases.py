"""The bad-input table's machinery, shared by tests/bad_input/test_bad_input_cli*.py (one file per
command family): the good world every case spoils one thing of, the ``Case`` record, the
malformed contents used by several families, and the check every case must pass.

Every case names the words its ERROR line must hold (``Case.words``): at least the offending
file (its path tail and line, e.g. ``/in/utt2spk:2:``) or option, and the problem. The words
were taken from each case's actual ERROR line, keeping only what is specific to the case.
"""

from __future__ import annotations

import gzip
import importlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

import numpy as np
import pytest
import soundfile as sf
import torch

from seedkit.data.datadir import validate_data_dir
from seedkit.embio import EmbeddingWriter
from seedkit.errors import run_main
from seedkit.scoring.plda import save_plda, train_plda_backend
from seedkit.scoring.report import evaluate_scores_file
from seedkit.seed.checkpoint import FORMAT, save_checkpoint
from seedkit.seed.config import merge_config, resolve_dims
from seedkit.seed.diffusion import SeedDiffusion

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
BINARY = bytes(range(256)) * 4
LATIN1 = b"s1-a caf\xe9\n"
ARK = b"s1-a \x00B\x04\x00\x00\x00\x00"
TINY_CONF = REPO / "egs/mini/seed/conf/test_tiny_ecapa.yaml"
EXTRACT_OPTS = ["--allow-random-weights", "--no-progress"]
TRAIN_OPTS = ["--device", "cpu", "--set", "epochs=1"]


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
    datadir(w / "data", {u: (str(w / "wav" / f"{u}.wav"), u.split("-")[0]) for u in utts})
    for name, keys in (("musan", ["music-a", "noise-b"]), ("rirs", ["small-r1"])):
        for k in keys:
            sf.write(w / "wav" / f"{k}.wav", 0.1 * rng.standard_normal(8000), 16000)
        datadir(w / name, {k: (str(w / "wav" / f"{k}.wav"), k.split("-")[0]) for k in keys})
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
    evaluate_scores_file(str(w / "scores"), str(w / "trials"), [0.01, 0.05],
                         json_out=str(w / "metrics.json"))
    (w / "utt2clean").write_text("".join(f"{u} {u}\n" for u in utts))
    seed_model(w / "final.pt", dim=8)
    x = np.stack([emb[u] for u in utts]).astype(np.float64)
    x = np.concatenate([x, x + 0.3 * rng.standard_normal(x.shape)])
    save_plda(train_plda_backend(x, np.array([u[:2] for u in utts] * 2)), w / "plda")
    # VC-Mix inputs: a VoxCeleb1-O-like and a VoxConverse-like data dir with trials
    datadir(w / "vox1", {u: (str(w / "wav" / f"{u}.wav"), u.split("-")[0]) for u in utts})
    (w / "vox1" / "trials").write_text("s1-a s1-b target\ns1-a s2-a nontarget\n")
    vc = {f"c{i}-x": (str(w / "wav" / f"{u}.wav"), f"c{i}-x") for i, u in enumerate(utts[:2])}
    datadir(w / "vc", vc)
    (w / "vc" / "trials").write_text("c0-x c1-x nontarget\n")
    return w


def datadir(path: Path, entries: dict[str, tuple[str, str]]) -> None:
    """A data dir at ``path``: wav.scp and utt2spk from ``{utt: (audio, speaker)}``."""
    path.mkdir(parents=True, exist_ok=True)
    keys = sorted(entries)
    (path / "wav.scp").write_text("".join(f"{k} {entries[k][0]}\n" for k in keys))
    (path / "utt2spk").write_text("".join(f"{k} {entries[k][1]}\n" for k in keys))


def seed_model(path: Path, dim: int) -> None:
    """A seedkit SEED checkpoint (random weights) for ``dim``-d embeddings."""
    cfg = resolve_dims(merge_config({"embed_dim": dim}))
    torch.manual_seed(0)
    net = SeedDiffusion(cfg).net
    save_checkpoint({"format": FORMAT, "kind": "model", "config": dict(cfg),
                     "model": net.state_dict()}, path)


# ----------------------------------------------------------------------------- the table

Words = Union[str, tuple[str, ...]]


@dataclass
class Case:
    """One malformed input: ``prepare(world, tmp)`` writes the bad files and returns the argv;
    ``words``: what its ERROR line must hold (each of them)."""

    id: str
    module: str
    prepare: Callable[[Path, Path], list]
    outputs: list[str] = field(default_factory=list)   # relative to tmp: must not exist
    words: Words = ()

    def __post_init__(self) -> None:
        if isinstance(self.words, str):
            self.words = (self.words,) if self.words else ()


def case(table: list[Case], id: str, module: str, outputs=(), words: Words = ()):
    """Decorator: the function ``prepare(world, tmp)`` becomes a case of ``table``."""
    def deco(fn):
        table.append(Case(id, module, fn, list(outputs), words))
        return fn
    return deco


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def bad_table(name: str, content: bytes, base: str = "data"):
    """A copy of world/<base> (as tmp/in) whose table ``name`` holds ``content``."""
    def prep(w: Path, t: Path) -> Path:
        d = copy_dir(w / base, t / "in")
        (d / name).write_bytes(content)
        return d
    return prep


def gz(path: Path) -> bytes:
    return gzip.compress(path.read_bytes())


def write(t: Path, name: str, content: bytes) -> Path:
    p = t / name
    p.write_bytes(content)
    return p


def copy_model(w: Path, t: Path) -> Path:
    return write(t, "m.pt", (w / "final.pt").read_bytes())


#: A data dir's tables spoiled one way each: kind -> (table, content (None: the good table
#: gzip-compressed), the words of the ERROR line). Every data-dir reader meets them
#: (tests/bad_input/test_bad_input_cli.py, and seedkit-extract in test_bad_input_cli_extract.py).
TABLE_BAD = {
    "utt2spk-empty": ("utt2spk", b"", ("/in/utt2spk:0:", "empty")),
    "utt2spk-binary": ("utt2spk", BINARY, ("/in/utt2spk:0:", "binary data")),
    "utt2spk-gzip": ("utt2spk", None, ("/in/utt2spk:0:", "gzip-compressed")),
    "utt2spk-png": ("utt2spk", PNG, ("/in/utt2spk:0:", "PNG image")),
    "utt2spk-latin1": ("utt2spk", LATIN1, ("/in/utt2spk:1:", "not UTF-8")),
    "utt2spk-utf16": ("utt2spk", "s1-a s1\n".encode("utf-16"), ("/in/utt2spk:0:", "UTF-16")),
    "utt2spk-blank-line": ("utt2spk", b"s1-a s1\n\ns1-b s1\n", ("/in/utt2spk:2:", "empty line")),
    "utt2spk-one-field": ("utt2spk", b"s1-a\n",
                          ("/in/utt2spk:1:", "expected at least 2 fields, got 1")),
    "utt2spk-dup": ("utt2spk", b"s1-a s1\ns1-a s1\n", ("/in/utt2spk:2:", "duplicate key 's1-a'")),
    "utt2spk-unsorted": ("utt2spk", b"s3-b s3\ns3-a s3\ns2-b s2\ns2-a s2\ns1-b s1\ns1-a s1\n",
                         ("/in/utt2spk:2:", "not sorted")),
    "wav.scp-ark": ("wav.scp", ARK, ("/in/wav.scp:0:", "binary Kaldi archive")),
    "wav.scp-gzip": ("wav.scp", None, ("/in/wav.scp:0:", "gzip-compressed")),
    "wav.scp-bad-pipe": ("wav.scp", b"s1-a |\n", ("/in/wav.scp:1:", "no command before '|'")),
    "wav.scp-missing-key": ("wav.scp", b"s1-a /x.wav\n",
                            ("/in/wav.scp:0:", "5 keys of utt2spk missing")),
    "segments-binary": ("segments", BINARY, ("/in/segments:0:", "binary data")),
    "utt2dur-not-number": ("utt2dur", b"s1-a x\n",
                           ("/in/utt2dur:1:", "duration 'x' is not a number")),
}


def spoilt_dir(name: str, content):
    """``prepare`` of a copy of world/data (tmp/in) whose table ``name`` holds ``content``
    (None: the good table gzip-compressed)."""
    def prep_dir(w: Path, t: Path) -> Path:
        d = copy_dir(w / "data", t / "in")
        (d / name).write_bytes(gz(w / "data" / name) if content is None else content)
        return d
    return prep_dir


def rspec_bad(kind: str):
    """An rspecifier that is wrong in the way ``kind`` says."""
    def f(w: Path, t: Path) -> str:
        if kind == "ark-as-scp":
            return f"scp:{w}/emb.ark"
        if kind == "scp-gzip":
            return f"scp:{write(t, 'x.scp', gz(w / 'emb.scp'))}"
        if kind == "scp-png":
            return f"scp:{write(t, 'x.scp', PNG)}"
        if kind == "scp-latin1":
            return f"scp:{write(t, 'x.scp', LATIN1)}"
        if kind == "scp-empty-line":
            return "scp:" + str(write(t, "x.scp", (w / "emb.scp").read_bytes() + b"\n\n"))
        if kind == "scp-bad-offset":
            return "scp:" + str(write(t, "x.scp", f"a {w}/emb.ark:999999\n".encode()))
        if kind == "ark-truncated":
            return f"ark:{write(t, 'x.ark', (w / 'emb.ark').read_bytes()[:30])}"
        if kind == "ark-text":
            return "ark:" + str(write(t, "x.ark", b"hello world\n"))
        if kind == "ark-png":
            return f"ark:{write(t, 'x.ark', PNG)}"
        if kind == "ark-empty":
            return f"ark:{write(t, 'x.ark', b'')}"
        if kind == "ark-gzip":
            return f"ark:{write(t, 'x.ark', gz(w / 'emb.ark'))}"
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


#: Embedding rspecifiers spoilt one way each -> the words of the ERROR line (every command that
#: reads embeddings meets them; "ark-empty" is worded by each command, see ``RSPEC_EMPTY``).
RSPEC_BAD = {
    "ark-as-scp": ("/emb.ark:0:", "binary Kaldi archive"),
    "scp-gzip": ("/x.scp:0:", "gzip-compressed"),
    "scp-png": ("/x.scp:0:", "PNG image"),
    "scp-latin1": ("/x.scp:1:", "not UTF-8"),
    "scp-empty-line": ("/x.scp:7:", "empty line"),
    "scp-bad-offset": ("/x.scp:1:", "cannot read 'a'", "emb.ark:999999", "truncated or corrupt"),
    "ark-truncated": ("/x.ark:1:", "cannot read archive entry 1", "truncated or corrupt"),
    "ark-text": ("/x.ark:1:", "cannot read archive entry 1", "truncated or corrupt"),
    "ark-png": ("/x.ark:1:", "cannot read archive entry 1", "truncated or corrupt"),
    "ark-empty": None,
    "ark-gzip": ("/x.ark:1:", "cannot read archive entry 1", "truncated or corrupt"),
    "nan": ("/nan.ark:1:", "'s1-a' contains NaN or inf"),
    "missing": ("/nope.scp:0:", "scp file not found"),
    "no-prefix": ("bad rspecifier", "/emb.scp'"),
}
RSPEC_EMPTY = {"enhance": ("/x.ark:0:", "no embeddings to enhance"),
               "train-plda": ("/x.ark:0:", "no embeddings"),
               "score": ("no embeddings in ark:", "/x.ark"),
               "train-seed": ("/x.ark:0:", "no clean embeddings")}


def rspec_words(command: str, kind: str) -> tuple[str, ...]:
    return RSPEC_BAD[kind] or RSPEC_EMPTY[command]


#: Text files (trials) spoilt one way each -> (content, the words after the file's name).
TEXT_BAD = {"binary": (BINARY, ":0:", "binary data"), "png": (PNG, ":0:", "PNG image"),
            "empty": (b"", ":0:", "empty"), "latin1": (LATIN1, ":1:", "not UTF-8"),
            "utf16": ("s1-a s1-b target\n".encode("utf-16"), ":0:", "UTF-16"),
            "ark": (ARK, ":0:", "binary Kaldi archive"),
            "bzip2": (b"BZh91AY&SY\x00\x01\xff\xfe", ":0:", "bzip2-compressed"),
            "blank-only": (b"\n\n", ":0:", "trials file is empty")}


def audio_dd(kind: str):
    """``prepare`` of a copy of world/data (tmp/in) whose wav.scp names bad audio ``kind``."""
    def prep(w, t):
        d = copy_dir(w / "data", t / "in")
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


#: The words of bad audio (kind -> words): seedkit-extract's (resample words "empty" its own).
AUDIO_WORDS = {
    "stereo": ("/in/wav.scp:1: 's1-a':", "/a.wav has 2 channels"),
    "8k": ("/in/wav.scp:1: 's1-a':", "/a.wav has sample rate 8000 Hz, expected 16000 Hz"),
    "empty": ("/in/wav.scp:1: 's1-a':", "/a.wav has no samples"),
    "png": ("/in/wav.scp:1: 's1-a':", "/a.wav as audio"),
    "pipe-fails": ("/in/wav.scp:1: 's1-a':", "pipe command failed with status 1"),
    "dir": ("/in/wav.scp:1: 's1-a':", "does not exist"),
}


# ----------------------------------------------------------------------------- the checks

def check_bad_input(c: Case, world: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """Run case ``c`` in-process: non-zero status, one ERROR line holding ``c.words``, no
    traceback, none of ``c.outputs`` left."""
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
    for word in c.words:
        assert word in errors[0], f"{word!r} not in the ERROR line:\n{errors[0]}"
    for out in c.outputs:
        assert not (t / out).exists(), f"{out} left behind"


def check_accepted(c: Case, world: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """Run case ``c`` in-process: it must succeed (and a data dir it writes must be valid)."""
    t = tmp_path / "t"
    t.mkdir()
    monkeypatch.chdir(t)
    argv = [str(a) for a in c.prepare(world, t)]
    module = importlib.import_module(f"seedkit.bin.{c.module}")
    status = run_main(module.main, prog=c.module, argv=argv)
    assert status == 0, capsys.readouterr().err
    if c.module in ("copy_data_dir", "subset_data_dir", "combine_data_dir"):
        validate_data_dir(t / "out", check_files=False)
