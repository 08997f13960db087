"""The bad-input table: every console script on malformed input (empty, binary, compressed,
truncated, wrong encoding, wrong shape, out-of-range values, inconsistent data dirs) must end with
a non-zero status, exactly one ERROR line holding the case's words (the offending file or option
and the problem), no traceback, and nothing under the requested output name. The commands run
in-process through ``run_main`` (as the console scripts do); a few run as real processes at the
end to check the same from the outside.

One file per command family: this one holds the data-dir tools (validate, fix, split, copy,
subset, combine, resample, resample-wav, augment, render-wav) and the checks over the whole
table; test_bad_input_cli_extract.py (extract, export-onnx), test_bad_input_cli_seed.py
(enhance, train-seed), test_bad_input_cli_scoring.py (train-plda, score, metrics, plot-det,
results-table, merge-embedding-scp, make-vcmix) and test_bad_input_cli_corpora.py (download,
prepare, the corpus makers) the others; tests/bad_input_cases.py the shared machinery.

Accepted on purpose (not in the table): gzip-compressed trials, score files and metrics JSON are
read as their decompressed text (``seedkit.fileio.read_text(gzip_ok=True)``).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import bad_input_cases as bi
import numpy as np
import pytest
import soundfile as sf
import test_bad_input_cli_corpora as corpora_cases
import test_bad_input_cli_extract as extract_cases
import test_bad_input_cli_scoring as scoring_cases
import test_bad_input_cli_seed as seed_cases
from bad_input_cases import Case, world  # noqa: F401  (world: the module fixture)

from seedkit.errors import run_main

CASES: list[Case] = []

# --- data dir tables, for every command that reads a data dir --------------------------------
#: (command, kind) whose ERROR line words the spoilt table differently from bi.TABLE_BAD's words:
#: fix/copy/subset/combine check that the tables agree before they read each one.
TABLE_WORDS = {
    ("fix", "utt2spk-empty"): ("/in:0:", "no utterance is in every table"),
    **{(cmd, "wav.scp-missing-key"): ("/in:0:", "5 utterances are not in every table")
       for cmd in ("copy", "subset", "combine")},
}

for _cid, (_name, _content, _words) in bi.TABLE_BAD.items():
    _prep = bi.spoilt_dir(_name, _content)
    for _cmd, _module, _argv, _outputs in (
            ("validate", "validate_data_dir", lambda w, t, p=_prep: [p(w, t)], []),
            ("fix", "fix_data_dir", lambda w, t, p=_prep: [p(w, t)], []),
            ("split", "split_data_dir", lambda w, t, p=_prep: [p(w, t), 2], ["in/split2"]),
            ("copy", "copy_data_dir", lambda w, t, p=_prep: [p(w, t), t / "out"], ["out"]),
            ("subset", "subset_data_dir", lambda w, t, p=_prep: [
                "--utt-list", w / "data" / "utt2spk", p(w, t), t / "out"], ["out"]),
            ("combine", "combine_data_dir", lambda w, t, p=_prep: [t / "out", p(w, t)],
             ["out"]),
            ("resample", "resample_data_dir", lambda w, t, p=_prep: [
                p(w, t), t / "out", t / "wavs"], ["out"]),
            ("augment", "augment_data_dir", lambda w, t, p=_prep: [
                "--musan", w / "musan", "--rirs", w / "rirs", p(w, t), t / "crops", t / "aug"],
             ["crops", "aug"])):
        CASES.append(Case(f"{_cmd}:{_cid}", _module, _argv, _outputs,
                          TABLE_WORDS.get((_cmd, _cid), _words)))


# --- data-dir tools: their own options ---------------------------------------------------------
@bi.case(CASES, "split:not-speaker-sorted", "split_data_dir", ["in/split2"],
      ("/in/utt2spk:2:", "out of speaker order"))
def _(w, t):
    d = bi.copy_dir(w / "data", t / "in")
    (d / "utt2spk").write_text("s1-a s2\ns1-b s1\ns2-a s1\ns2-b s2\ns3-a s3\ns3-b s3\n")
    return [d, 2]


@bi.case(CASES, "split:zero-parts", "split_data_dir", ["data/split0"],
      "number of parts must be >= 1, got 0")
def _(w, t):
    return [bi.copy_dir(w / "data", t / "data"), 0]


@bi.case(CASES, "split:more-parts-than-speakers", "split_data_dir", ["data/split9"],
      ("/data:0:", "cannot split 3 speakers into 9 parts"))
def _(w, t):
    return [bi.copy_dir(w / "data", t / "data"), 9]


@bi.case(CASES, "copy:spk-prefix-space", "copy_data_dir", ["out"],
      ("--spk-prefix 'a b'", "whitespace"))
def _(w, t):
    return ["--spk-prefix", "a b", w / "data", t / "out"]


@bi.case(CASES, "copy:utt-suffix-tab", "copy_data_dir", ["out"], ("--utt-suffix", "whitespace"))
def _(w, t):
    return ["--utt-suffix", "x\ty", w / "data", t / "out"]


@bi.case(CASES, "copy:src-missing", "copy_data_dir", ["out"],
      ("/missing:0:", "data directory not found"))
def _(w, t):
    return [t / "missing", t / "out"]


@bi.case(CASES, "combine:key-in-two-sources", "combine_data_dir", ["out"],
      ("/data:0:", "key 's1-a' is in two of the data dirs"))
def _(w, t):
    return [t / "out", w / "data", w / "data"]


@bi.case(CASES, "combine:repeated-key-other-speaker", "combine_data_dir", ["out"],
      ("/in/utt2spk:0:", "s1-a has two different speakers"))
def _(w, t):
    d = bi.copy_dir(w / "data", t / "in")
    (d / "utt2spk").write_text((d / "utt2spk").read_text().replace("s1-a s1", "s1-a s2"))
    return ["--allow-repeated-keys", "true", t / "out", w / "data", d]


@bi.case(CASES, "combine:repeated-key-other-audio", "combine_data_dir", ["out"],
      ("/in/wav.scp:0:", "differs from", "under the same key s1-a"))
def _(w, t):
    d = bi.copy_dir(w / "data", t / "in")
    scp = (d / "wav.scp").read_text().splitlines()
    key, path = scp[0].split(" ", 1)
    other = scp[1].split(" ", 1)[1]
    (d / "wav.scp").write_text("\n".join([f"{key} {other}", *scp[1:]]) + "\n")
    return ["--allow-repeated-keys", "true", t / "out", w / "data", d]


@bi.case(CASES, "combine:segments-next-to-no-utt2dur", "combine_data_dir", ["out"],
      ("/rirs/utt2dur:0:", "needs utt2dur"))
def _(w, t):
    seg = bi.copy_dir(w / "data", t / "seg")
    (seg / "segments").write_text("".join(
        f"{ln.split()[0]}-0 {ln.split()[0]} 0.0 0.2\n"
        for ln in (seg / "wav.scp").read_text().splitlines()))
    (seg / "utt2spk").write_text("".join(
        f"{ln.split()[0]}-0 {ln.split()[1]}\n"
        for ln in (seg / "utt2spk").read_text().splitlines()))
    (seg / "spk2utt").unlink(missing_ok=True)
    return [t / "out", seg, w / "rirs"]


@bi.case(CASES, "combine:flag-not-true-false", "combine_data_dir", ["out"],
      ("--allow-repeated-keys", "expected true or false, got 'yes'"))
def _(w, t):
    return ["--allow-repeated-keys", "yes", t / "out", w / "data"]


@bi.case(CASES, "combine:src-missing", "combine_data_dir", ["out"],
      ("/missing:0:", "data directory not found"))
def _(w, t):
    return [t / "out", t / "missing"]


for _cid, (_content, _words) in {
        "binary": (bi.BINARY, ("/list:0:", "binary data")),
        "png": (bi.PNG, ("/list:0:", "PNG image")),
        "gzip": (None, ("/list:0:", "gzip-compressed")),
        "empty": (b"", ("/list:0:", "none of the 0 ids")),
        "latin1": (bi.LATIN1, ("/list:1:", "not UTF-8"))}.items():
    def _mk(content=_content):
        def prep(w, t):
            c = bi.gz(w / "data" / "utt2spk") if content is None else content
            return ["--utt-list", bi.write(t, "list", c), w / "data", t / "out"]
        return prep
    CASES.append(Case(f"subset:list-{_cid}", "subset_data_dir", _mk(), ["out"], _words))


# --- resample / augment options -----------------------------------------------------------------
@bi.case(CASES, "resample:rate-0", "resample_data_dir", ["out"],
         ("--sample-rate 0 is not a sample rate", "in Hz"))
def _(w, t):
    return ["--sample-rate", 0, w / "data", t / "out", t / "wavs"]


@bi.case(CASES, "resample:job-beyond-nj", "resample_data_dir", ["out"],
      ("--job must be in 1..--nj", "got job 3 of 2"))
def _(w, t):
    return ["--job", 3, "--nj", 2, w / "data", t / "out", t / "wavs"]


@bi.case(CASES, "resample:nj-0", "resample_data_dir", ["out"],
      ("--job must be in 1..--nj", "got job 1 of 0"))
def _(w, t):
    return ["--job", 1, "--nj", 0, w / "data", t / "out", t / "wavs"]


@bi.case(CASES, "resample:corrupt-audio", "resample_data_dir", ["out"],
      ("/in/wav.scp:1: 's1-a': cannot read", "/bad.wav as audio"))
def _(w, t):
    d = bi.copy_dir(w / "data", t / "in")
    bad = bi.write(t, "bad.wav", b"RIFF\x00\x00\x00\x00WAVEjunk")
    (d / "wav.scp").write_text((w / "data" / "wav.scp").read_text().replace(
        str(w / "wav" / "s1-a.wav"), str(bad)))
    return [d, t / "out", t / "wavs"]


for _cid, (_args, _words) in {
        "rounds-neg": (["--rounds", -1], "--rounds must be >= 1, got -1"),
        "crop-0": (["--crop-sec", 0], ("--crop-sec must be", "got 0.0")),
        "crop-nan": (["--crop-sec", "nan"], ("--crop-sec must be", "got nan")),
        "crop-inf": (["--crop-sec", "inf"], ("--crop-sec must be", "got inf")),
        "rate-0": (["--sample-rate", 0], ("--crop-sec 2.015", "no samples at 0 Hz")),
        "job-beyond": (["--job", 5, "--nj", 2], ("--job must be in 1..--nj", "got job 5 of 2")),
        "materialise-maybe": (["--materialise", "maybe"], ("--materialise", "got 'maybe'")),
        "fresh-crops-1": (["--fresh-crops", "1"], ("--fresh-crops", "got '1'")),
        }.items():
    CASES.append(Case(f"augment:{_cid}", "augment_data_dir", lambda w, t, a=_args: [
        *a, "--musan", w / "musan", "--rirs", w / "rirs", w / "data", t / "crops", t / "aug"],
        ["crops", "aug"], _words))

for _cid, (_content, _words) in {
        "binary": (bi.BINARY, ("/musan/utt2spk:0:", "binary data")),
        "gzip": (None, ("/musan/utt2spk:0:", "gzip-compressed")),
        "unsorted": (b"noise-b noise\nmusic-a music\n", ("/musan/utt2spk:2:", "not sorted")),
        }.items():
    def _mk(content=_content):
        def prep(w, t):
            m = bi.copy_dir(w / "musan", t / "musan")
            (m / "utt2spk").write_bytes(bi.gz(w / "musan" / "utt2spk") if content is None
                                        else content)
            return ["--musan", m, "--rirs", w / "rirs", w / "data", t / "crops", t / "aug"]
        return prep
    CASES.append(Case(f"augment:musan-{_cid}", "augment_data_dir", _mk(), ["crops", "aug"],
                      _words))


# --- resample-wav (a wav.scp pipe of the VoxCeleb recipe's stage 2) ---------------------------
def _stereo(w: Path, t: Path) -> Path:
    sf.write(t / "st.wav", np.zeros((800, 2)), 16000)
    return t / "st.wav"


for _cid, (_args, _words) in {
        "rate-0": (lambda w, t: [0, w / "wav/s1-a.wav"], "rate must be a positive integer, got 0"),
        "rate-word": (lambda w, t: ["x", w / "wav/s1-a.wav"], ("argument rate", "'x'")),
        "file-missing": (lambda w, t: [16000, t / "nope.wav"], ("/nope.wav:0:", "cannot read")),
        "file-png": (lambda w, t: [16000, bi.write(t, "a.wav", bi.PNG)],
                     ("/a.wav:0:", "/a.wav as audio")),
        "stereo": (lambda w, t: [16000, _stereo(w, t)], ("/st.wav:0:", "has 2 channels")),
        }.items():
    CASES.append(Case(f"resample-wav:{_cid}", "resample_wav", _args, [], _words))


# --- render-wav ------------------------------------------------------------------------------
def _render_spec(line: bytes, sources: bool = True):
    """A render.spec holding ``line`` (and render.sources naming world's dirs) -> argv."""
    def prep(w: Path, t: Path) -> list:
        if sources:
            bi.write(t, "render.sources", f"clean {w / 'data'}\nmusan {w / 'musan'}\nrirs "
                  f"{w / 'rirs'}\nsample_rate 16000\n".encode())
        return [bi.write(t, "render.spec", line), "s1-a-music1"]
    return prep


_GOOD_MUSIC = b"s1-a-music1 s1-a 0 32240 music music-a 0 7.5\n"
for _cid, (_prep, _words) in {
    "spec-missing": (lambda w, t: [t / "none.spec", "k"],
                     ("/none.spec:0:", "render spec not found")),
    "spec-empty": (_render_spec(b""), ("/render.spec:0:", "empty render spec")),
    "spec-binary": (_render_spec(bi.BINARY), ("/render.spec:0:", "binary")),
    "spec-png": (_render_spec(bi.PNG), ("/render.spec:0:", "PNG")),
    "spec-truncated": (_render_spec(_GOOD_MUSIC[:-12]), ("/render.spec:1:", "expected 8 fields")),
    "spec-no-newline": (_render_spec(_GOOD_MUSIC[:-1]), ("/render.spec:1:", "truncated")),
    "snr-not-numeric": (_render_spec(_GOOD_MUSIC.replace(b"7.5", b"loud")),
                        ("/render.spec:1:", "SNR", "'loud'")),
    "key-missing": (_render_spec(_GOOD_MUSIC.replace(b"s1-a-music1 ", b"s1-b-music1 ")),
                    ("/render.spec:0:", "no line for key 's1-a-music1'")),
    "recording-missing": (_render_spec(_GOOD_MUSIC.replace(b"music-a", b"music-z")),
                          ("/render.spec:1:", "'music-z' is not in the MUSAN data dir")),
    "utterance-missing": (_render_spec(_GOOD_MUSIC.replace(b" s1-a ", b" s9-a ")),
                          ("/render.spec:1:", "'s9-a' is not in the clean data dir")),
    "sources-missing": (_render_spec(_GOOD_MUSIC, sources=False),
                        ("/render.sources:0:", "render sources table")),
    "no-key": (lambda w, t: [bi.write(t, "render.spec", _GOOD_MUSIC)], "SPEC KEY"),
    "check-dir-spec-missing": (lambda w, t: ["--check-dir", bi.datadir(t / "d", {
        "s1-a": (f"seedkit-render-wav {t / 'none.spec'} s1-a |", "s1")}) or t / "d"],
        ("/none.spec:0:", "render spec not found")),
}.items():
    CASES.append(Case(f"render-wav:{_cid}", "render_wav", _prep, [], _words))


# --- audio and consistency, as a careless user would meet them -------------------------------
for _kind in ("empty", "png", "pipe-fails", "dir"):  # stereo and 8k are what resampling is for
    _words = (("/in/wav.scp:1: 's1-a':", "ffmpeg produced no audio") if _kind == "empty"
              else bi.AUDIO_WORDS[_kind])
    CASES.append(Case(f"resample:audio-{_kind}", "resample_data_dir",
                      lambda w, t, p=bi.audio_dd(_kind): [p(w, t), t / "out", t / "wavs"],
                      ["out"], _words))
for _cid, (_table, _content, _words) in {
        "segments-reversed": ("segments", "s1-a s1-a 2 1\n",
                              ("/in/segments:1:", "0 <= start < end", "got 2 1")),
        "utt2dur-negative": ("utt2dur", "".join(f"s{s}-{u} -1\n" for s in (1, 2, 3)
                                                for u in "ab"),
                             ("/in/utt2dur:1:", "duration '-1' must be >= 0")),
        "utt2dur-nan": ("utt2dur", "".join(f"s{s}-{u} nan\n" for s in (1, 2, 3) for u in "ab"),
                        ("/in/utt2dur:1:", "duration 'nan' must be >= 0")),
        "spk2utt-disagrees": ("spk2utt", "s1 s1-a\ns2 s2-a s2-b s1-b\ns3 s3-a s3-b\n",
                              ("/in/spk2utt:1:", "speaker 's1' does not match utt2spk")),
        "utt2clean-extra-key": ("utt2clean", "zz zz\n",
                                ("/in/utt2clean:1:", "keys not in utt2spk", "'zz'")),
        }.items():
    CASES.append(Case(f"validate:{_cid}", "validate_data_dir", lambda w, t, n=_table,
                      c=_content: [bi.bad_table(n, c.encode())(w, t)], [], _words))
CASES.append(Case("validate:wav-is-dir", "validate_data_dir",
                  lambda w, t: [bi.audio_dd("dir")(w, t)], [],
                  ("/in/wav.scp:1:", "of 's1-a' does not exist")))


# Inputs accepted on purpose (each is run below and must succeed):
ACCEPTED = {
    # fix_data_dir's job is to sort tables and drop utterances missing from some table (Kaldi)
    "fix:utt2spk-unsorted": "sorted in place, as Kaldi's fix_data_dir.sh",
    "fix:wav.scp-missing-key": "utterances without audio dropped, as Kaldi's fix_data_dir.sh",
    # copy and subset write sorted tables, so an unsorted (but complete) source is harmless
    "copy:utt2spk-unsorted": "the copy is written sorted",
    "subset:utt2spk-unsorted": "the subset is written sorted",
    "combine:utt2spk-unsorted": "the union is written sorted",
}
ACCEPTED_CASES = [c for c in CASES if c.id in ACCEPTED] + scoring_cases.ACCEPTED_CASES
CASES = [c for c in CASES if c.id not in ACCEPTED]

#: The whole table, every family.
ALL_CASES = (CASES + extract_cases.CASES + seed_cases.CASES + scoring_cases.CASES
             + corpora_cases.CASES)

#: Cases whose ERROR line does not name what is wrong with them, so no words are asked of them;
#: each is a finding about its command's message, not a case to word around.
NO_WORDS: dict[str, str] = {}  # case id -> why its ERROR line cannot name words (none today)


# ----------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, world, tmp_path, capsys, monkeypatch):  # noqa: F811
    bi.check_bad_input(c, world, tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("c", ACCEPTED_CASES, ids=[c.id for c in ACCEPTED_CASES])
def test_accepted_input(c: Case, world, tmp_path, capsys, monkeypatch):  # noqa: F811
    bi.check_accepted(c, world, tmp_path, capsys, monkeypatch)


def test_cases_per_command():
    """The table is broad: every console script has its cases (counts in the docs)."""
    per: dict[str, int] = {}
    for c in ALL_CASES:
        per[c.module] = per.get(c.module, 0) + 1
    bins = {p.stem for p in (bi.REPO / "seedkit" / "bin").glob("*.py") if p.stem != "__init__"}
    assert bins <= set(per), sorted(bins - set(per))
    assert len(ALL_CASES) >= 300
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)
    assert len(ACCEPTED_CASES) == len(ACCEPTED) + len(scoring_cases.ACCEPTED)


def test_every_case_names_its_words():
    """Each case says what its ERROR line must hold (NO_WORDS: the listed exceptions)."""
    without = sorted(c.id for c in ALL_CASES if not c.words)
    assert without == sorted(NO_WORDS)
    assert len(without) <= 0.05 * len(ALL_CASES)


# A few as real processes: the console scripts themselves, no traceback, status and one line.
@pytest.mark.parametrize("script,make", [
    ("seedkit-score", lambda w, t: [bi.write(t, "trials", bi.PNG), f"scp:{w}/emb.scp",
                                    f"scp:{w}/emb.scp", t / "scores"]),
    ("seedkit-enhance", lambda w, t: [w / "final.pt", f"scp:{w}/emb.ark",
                                      f"ark,scp:{t}/e.ark,{t}/e.scp"]),
    ("seedkit-validate-data-dir", lambda w, t: [bi.bad_table("utt2spk", bi.BINARY)(w, t)]),
    ("seedkit-train-plda", lambda w, t: [
        f"scp:{w}/emb.scp", bi.write(t, "u2s", bi.gz(w / "data/utt2spk")), t / "plda"]),
], ids=["score", "enhance", "validate", "train-plda"])
def test_console_scripts(script, make, world, tmp_path):  # noqa: F811
    argv = [str(a) for a in make(world, tmp_path)]
    proc = subprocess.run([str(bi.VENV_BIN / script), *argv], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_shell_wrappers_error_form(world, tmp_path):  # noqa: F811
    d = bi.bad_table("utt2spk", bi.BINARY)(world, tmp_path)
    for tool, args in (("validate_data_dir.sh", [d]), ("fix_data_dir.sh", [d]),
                       ("split_data.sh", [d, 2]),
                       ("copy_data_dir.sh", ["--spk-prefix", "a b", world / "data",
                                             tmp_path / "out"])):
        proc = subprocess.run([str(bi.REPO / "utils" / tool), *map(str, args)],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={"PATH": f"{bi.VENV_BIN}:/usr/bin:/bin"})
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR (")]
        assert proc.returncode != 0 and len(errors) == 1, (tool, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("table,content", [
    ("wav.scp", b"s1-a /x.wav\n"), ("utt2spk", b"s1-b s1\ns1-a s1\n"),
    ("utt2spk", bi.BINARY), ("segments", b"s1-a s1-a 2 1\n")])
def test_data_dir_users_report_what_validate_reports(world, tmp_path, capsys,  # noqa: F811
                                                     table, content):
    """resample, augment and extract say exactly what seedkit-validate-data-dir says."""
    d = bi.bad_table(table, content)(world, tmp_path)
    runs = {"validate_data_dir": ["--no-spk-sort", "--no-check-files", d],
            "resample_data_dir": [d, tmp_path / "out", tmp_path / "wavs"],
            "augment_data_dir": ["--musan", world / "musan", "--rirs", world / "rirs", d,
                                 tmp_path / "crops", tmp_path / "aug"],
            "extract": ["--config", bi.TINY_CONF, *bi.EXTRACT_OPTS, d, f"ark:{tmp_path}/x.ark"]}
    said = set()
    for mod, argv in runs.items():
        module = importlib.import_module(f"seedkit.bin.{mod}")
        assert run_main(module.main, prog="p", argv=[str(a) for a in argv]) == 1
        said.add(tuple(ln for ln in capsys.readouterr().err.splitlines()
                       if ln.startswith("ERROR")))
    assert len(said) == 1, said


if __name__ == "__main__":  # pragma: no cover - print the per-command counts
    counts: dict[str, int] = {}
    for c in ALL_CASES:
        counts[c.module] = counts.get(c.module, 0) + 1
    for k in sorted(counts):
        print(f"{k:24s} {counts[k]}")
    print("total", len(ALL_CASES), "with words", sum(bool(c.words) for c in ALL_CASES),
          file=sys.stderr)
