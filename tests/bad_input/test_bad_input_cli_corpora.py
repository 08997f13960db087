"""The bad-input table (test_bad_input_cli.py beside this file), corpus commands:
seedkit-download-corpus (hostile and broken archives), seedkit-prepare-corpus,
seedkit-prepare-mini-corpus, seedkit-make-mini-corpus (configs and options),
seedkit-make-real-layout and seedkit-make-heldout-sets."""

from __future__ import annotations

import gzip
import io
import tarfile

import bad_input_cases as bi
import pytest
from bad_input_cases import Case, world  # noqa: F401  (world: the module fixture)

CASES: list[Case] = []


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


_TAR = "/corpora/librilight/small.tar:0:"
for _cid, (_members, _words) in {
        "symlink-up": ([("small/evil", "../../.."), ("small/evil/f", None)],
                       (_TAR, "unsafe archive member 'small/evil'", "nothing was extracted")),
        "dotdot": ([("../x", None)], (_TAR, "unsafe archive member '../x'")),
        "absolute": ([("/tmp/seedkit-abs-x", None)],
                     (_TAR, "'/tmp/seedkit-abs-x': absolute path"))}.items():
    CASES.append(Case(f"download:tar-{_cid}", "download_corpus", lambda w, t, m=_members: [
        "--url", bi.write(t, "small.tar", _tar_bytes(m)).as_uri(), "librilight", t / "corpora"],
        ["corpora/.seedkit_librilight.complete", "corpora/librilight/small"], _words))
CASES += [
    Case("download:not-a-tar", "download_corpus", lambda w, t: [
        "--url", bi.write(t, "small.tar", bi.PNG).as_uri(), "librilight", t / "corpora"],
        ["corpora/.seedkit_librilight.complete"], (_TAR, "cannot extract")),
    Case("download:on-disk-missing", "download_corpus", lambda w, t: [
        "--on-disk", t / "nope", "musan", t / "corpora"], ["corpora/.seedkit_musan.complete"],
        ("/nope:0:", "musan directory not found")),
    Case("download:md5-mismatch", "download_corpus", lambda w, t: [
        "--url", bi.write(t, "small.tar", _tar_bytes([("small/a", None)])).as_uri(), "--md5",
        "0" * 32, "librilight", t / "corpora"], ["corpora/.seedkit_librilight.complete"],
        (_TAR, "md5 of", "expected 00000000000000000000000000000000")),
    Case("prepare:corpus-missing", "prepare_corpus", lambda w, t: [
        "musan", t / "nope", t / "data"], ["data/musan"],
        ("/nope:0:", "MUSAN directory not found")),
    Case("prepare:nj-0", "prepare_corpus", lambda w, t: [
        "--nj", "0", "musan", t / "nope", t / "data"], ["data/musan"],
        ("--nj 0", "at least 1 parallel worker")),
    Case("prepare-mini:corpus-missing", "prepare_mini_corpus", lambda w, t: [
        t / "nope", t / "data"], ["data/train"], ("/nope:0:", "mini corpus directory not found")),
]

for _cid, (_content, _words) in {
        "png": (bi.PNG, ("/c.yaml:0:", "PNG image")),
        "list": (b"- 1\n", ("/c.yaml:0:", "config must be a mapping")),
        "gzip": (gzip.compress(b"seed: 1\n"), ("/c.yaml:0:", "gzip-compressed")),
        "unknown-key": (b"no_such_key: 1\n", "unknown corpus config keys ['no_such_key']"),
        "seed-text": (b"seed: x\n", ("config key seed must be", "got 'x'")),
        "snrs-text": (b"snrs: [a]\n", ("config key snrs must be", "got ('a',)")),
        "level-list": (b"level_dbfs: [1, 2]\n", ("config key level_dbfs must be", "got (1, 2)")),
        }.items():
    CASES.append(Case(f"make-mini-corpus:config-{_cid}", "make_mini_corpus",
                      lambda w, t, c=_content: ["--config", bi.write(t, "c.yaml", c),
                                                t / "corpus"], ["corpus"], _words))
for _cid, (_args, _words) in {
        "speakers-0": (["--num-train-speakers", "0"], "--num-train-speakers must be >= 1, got 0"),
        "min-dur-neg": (["--min-dur", "-1"], ("--min-dur", "got -1.0")),
        "jobs-0": (["--jobs", "0"], "--jobs must be >= 1, got 0"),
        "babble-one-value": (["--babble-talkers", "0"], "--babble-talkers needs two values"),
        "level-nan": (["--level-dbfs", "nan"], "--level-dbfs must be finite, got nan"),
        "level-positive": (["--level-dbfs", "6"], "--level-dbfs must be in -80..0, got 6.0"),
        "mix-snr-inf": (["--mix-snr", "inf"], ("--mix-snr needs two values", "got (inf,)")),
        "mix-snr-reversed": (["--mix-snr", "20,10"], ("--mix-snr must be", "got (20.0, 10.0)")),
        "seed-neg": (["--seed", "-1"], "--seed must be in 0..2^32-1, got -1"),
        "noise-dur-one": (["--noise-dur", "1"], "--noise-dur needs two values"),
        "speed-jitter-1": (["--utt-speed-jitter", "1.5"], ("--utt-speed-jitter", "got 1.5")),
        "snrs-text": (["--snrs", "a,b"], ("--snrs", "'a,b'")),
        "max-dur-huge": (["--max-dur", "1e9"], "--max-dur must be at most 60 s"),
        "trials-odd": (["--trials-per-set", "7"], ("--trials-per-set must be even", "got 7")),
        "heldout-variant-unknown": (["--heldout-variants", "m1,zz9"],
                                    ("--heldout-variants names ['zz9'], not in --variants",)),
        "heldout-variants-all": (["--variants", "m1,f1", "--heldout-variants", "f1,m1"],
                                 "--heldout-variants leaves no variant for the training speakers"),
        "custom-variants-only": (["--variants", "m1,f1"],
                                 ("--heldout-variants names", "give the held-out ones too")),
        }.items():
    CASES.append(Case(f"make-mini-corpus:{_cid}", "make_mini_corpus",
                      lambda w, t, a=_args: [*a, t / "corpus"], ["corpus"], _words))
CASES += [
    Case("make-real-layout:scale-0", "make_real_layout", lambda w, t: [
        "--scale", "0", t / "root"], ["root"], "--scale must be in 1..1000, got 0"),
    Case("make-heldout-sets:corpus-missing", "make_heldout_sets", lambda w, t: [
        t / "nope", t / "heldout"], ["heldout"], ("/nope/corpus.json:0:", "no corpus.json")),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, world, tmp_path, capsys, monkeypatch):  # noqa: F811
    bi.check_bad_input(c, world, tmp_path, capsys, monkeypatch)
