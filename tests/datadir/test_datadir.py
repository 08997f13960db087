"""Kaldi data directories: round trips, every validator rejection, fix, subset, split, copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seedkit.bin import split_data_dir as split_cli
from seedkit.bin import validate_data_dir as validate_cli
from seedkit.data.datadir import (
    fix_data_dir,
    load_data_dir,
    rename_data_dir,
    subset_by_speakers,
    subset_data_dir,
    validate_data_dir,
    write_data_dir,
)
from seedkit.data.split import split_data_dir, write_split
from seedkit.errors import SeedkitError, run_main

PIPE = "sox  'my dir/a.wav' -t wav -r 16000 - |"  # two spaces and quotes: kept verbatim


def write_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def audio(tmp_path) -> Path:
    p = tmp_path / "audio.wav"
    p.write_bytes(b"RIFF")  # only existence is checked here
    return p


def basic_files(audio: Path) -> dict[str, str]:
    return {
        "wav.scp": f"a-1 {audio}\na-2 {PIPE}\nb-1 {audio}\n",
        "utt2spk": "a-1 a\na-2 a\nb-1 b\n",
        "utt2dur": "a-1 1.2345\na-2 3\nb-1 0.5\n",
        "utt2env": "a-1 clean\na-2 music\nb-1 noise\n",
        "text": "a-1 hello  world\na-2 x\nb-1 y z\n",
    }


# --------------------------------------------------------------------------- round trips
def test_round_trip_paths_pipes_extra_tables(tmp_path, audio):
    src = write_dir(tmp_path / "src", basic_files(audio))
    dd = load_data_dir(src)
    assert dd.wav_scp["a-2"] == PIPE  # the command exactly as written
    assert dd.spk2utt == {"a": ["a-1", "a-2"], "b": ["b-1"]}  # derived: no spk2utt file
    assert dd.utt2dur == {"a-1": 1.2345, "a-2": 3.0, "b-1": 0.5}
    assert dd.extra["utt2env"]["a-2"] == "music"
    assert dd.extra["text"]["a-1"] == "hello  world"
    write_data_dir(dd, tmp_path / "out")
    out = tmp_path / "out"
    for name, text in basic_files(audio).items():
        assert (out / name).read_text() == text, name  # byte-identical, precision kept
    assert (out / "spk2utt").read_text() == "a a-1 a-2\nb b-1\n"
    again = load_data_dir(out)
    assert (again.wav_scp, again.utt2spk, again.utt2dur, again.extra) == \
        (dd.wav_scp, dd.utt2spk, dd.utt2dur, dd.extra)
    validate_data_dir(out)


def test_round_trip_segments_and_reco2dur(tmp_path, audio):
    files = {
        "wav.scp": f"rec1 {audio}\nrec2 {PIPE}\n",
        "segments": "s-1 rec1 0 1.25\ns-2 rec1 1.25 2.5\ns-3 rec2 0.5 -1\n",
        "utt2spk": "s-1 s\ns-2 s\ns-3 s\n",
        "reco2dur": "rec1 2.5\nrec2 7.125\n",
    }
    src = write_dir(tmp_path / "src", files)
    dd = validate_data_dir(src)
    assert dd.segments["s-3"] == ("rec2", 0.5, -1.0)
    assert dd.wav_entry("s-2") == str(audio)
    write_data_dir(dd, tmp_path / "out")
    for name, text in files.items():
        assert (tmp_path / "out" / name).read_text() == text, name
    # a subset keeps only the recordings its segments use, in every per-recording table
    sub = subset_data_dir(dd, ["s-3"])
    assert list(sub.wav_scp) == ["rec2"] and list(sub.reco_extra["reco2dur"]) == ["rec2"]


def test_write_removes_stale_tables(tmp_path, audio):
    src = write_dir(tmp_path / "src", basic_files(audio))
    dd = load_data_dir(src)
    dd.utt2dur = None
    dd.extra.pop("utt2env")
    write_data_dir(dd, src)
    assert not (src / "utt2dur").exists() and not (src / "utt2env").exists()
    validate_data_dir(src)


def test_written_files_have_umask_permissions(tmp_path, audio):
    src = write_dir(tmp_path / "src", basic_files(audio))
    write_data_dir(load_data_dir(src), tmp_path / "out")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "out" / "utt2spk").stat().st_mode & 0o777 == 0o666 & ~mask


# --------------------------------------------------------------------------- validation
def with_change(audio: Path, **changes: str) -> dict[str, str]:
    files = basic_files(audio)
    for name, text in changes.items():
        files[name.replace("__", ".")] = text
    return files


REJECTIONS = [
    # (id, changed files, file named in the error, line, words in the message)
    ("duplicate", {"utt2spk": "a-1 a\na-1 a\nb-1 b\n"}, "utt2spk", 2,
     "duplicate key 'a-1' (first on line 1)"),
    ("unsorted", {"utt2env": "a-2 music\na-1 clean\nb-1 noise\n"}, "utt2env", 2,
     "keys not sorted in C locale ('a-2' before 'a-1')"),
    ("unsorted-c-locale", {"utt2spk": "a-1 a\na-2 a\nB-1 b\n", "wav__scp": ""}, "utt2spk", 3,
     "keys not sorted in C locale"),
    ("extra-key", {"utt2dur": "a-1 1\na-2 2\nb-1 3\nc-1 4\n"}, "utt2dur", 4,
     "1 keys not in utt2spk, first ['c-1']"),
    ("missing-key", {"utt2env": "a-1 clean\nb-1 noise\n"}, "utt2env", 0,
     "1 keys of utt2spk missing, first ['a-2']"),
    ("too-many-fields", {"utt2spk": "a-1 a\na-2 a x\nb-1 b\n"}, "utt2spk", 2,
     "expected at most 2 fields, got 3"),
    ("too-few-fields", {"utt2env": "a-1 clean\na-2\nb-1 noise\n"}, "utt2env", 2,
     "expected at least 2 fields, got 1"),
    ("bad-duration", {"utt2dur": "a-1 1\na-2 long\nb-1 3\n"}, "utt2dur", 2,
     "duration 'long' is not a number"),
    ("blank-line", {"utt2spk": "a-1 a\n\na-2 a\nb-1 b\n"}, "utt2spk", 2, "empty line"),
    ("empty-file", {"utt2env": ""}, "utt2env", 0, "file is empty"),
    ("empty-utt2spk", {"utt2spk": "", "wav__scp": ""}, "wav.scp", 0, "file is empty"),
    ("pipe-double-bar", {"wav__scp": "a-1 x.wav\na-2 sox a.wav -t wav - | |\nb-1 y.wav\n"},
     "wav.scp", 2, "ends in '| |'"),
    ("pipe-quoting", {"wav__scp": "a-1 x.wav\na-2 sox 'a.wav -t wav - |\nb-1 y.wav\n"},
     "wav.scp", 2, "not valid shell (No closing quotation)"),
    ("pipe-no-command", {"wav__scp": "a-1 x.wav\na-2 |\nb-1 y.wav\n"},
     "wav.scp", 2, "no command before '|'"),
    ("path-with-space", {"wav__scp": "a-1 x.wav\na-2 my file.wav\nb-1 y.wav\n"},
     "wav.scp", 2, "a command must end with '|'"),
    ("spk2utt", {"spk2utt": "a a-1\nb b-1\n"}, "spk2utt", 1, "speaker 'a' does not match"),
    ("speaker-order", {"utt2spk": "a-1 a\na-2 b\nb-1 a\n"}, "utt2spk", 3,
     "utterance 'b-1' (speaker 'a') is out of speaker order"),
    ("not-utf8", {}, "utt2env", 2, "not UTF-8 text"),
]


@pytest.mark.parametrize("changes,name,line,words", [r[1:] for r in REJECTIONS],
                         ids=[r[0] for r in REJECTIONS])
def test_validator_rejects(tmp_path, audio, changes, name, line, words):
    files = with_change(audio, **changes)
    if files.get("wav.scp") == "":  # keep wav.scp consistent with a changed utt2spk
        keys = sorted((ln.split()[0] for ln in files["utt2spk"].splitlines()), key=str.encode)
        files["wav.scp"] = "".join(f"{k} {audio}\n" for k in keys)
    d = write_dir(tmp_path / "d", files)
    if name == "utt2env" and words == "not UTF-8 text":
        (d / "utt2env").write_bytes(b"a-1 clean\na-2 \xff\xfe\nb-1 noise\n")
    with pytest.raises(SeedkitError) as err:
        validate_data_dir(d, check_files=False)
    assert err.value.path == str(d / name)
    assert err.value.line == line
    assert words in err.value.message


def test_validator_missing_audio_file(tmp_path, audio):
    files = with_change(audio, wav__scp=f"a-1 {audio}\na-2 {PIPE}\nb-1 {tmp_path}/nope.wav\n")
    d = write_dir(tmp_path / "d", files)
    with pytest.raises(SeedkitError) as err:
        validate_data_dir(d)
    assert (err.value.path, err.value.line) == (str(d / "wav.scp"), 3)
    assert f"audio file {tmp_path}/nope.wav of 'b-1' does not exist" in err.value.message
    validate_data_dir(d, check_files=False)  # the files check is the only problem


def test_validator_missing_required_file_and_dir(tmp_path, audio):
    d = write_dir(tmp_path / "d", {"wav.scp": f"a-1 {audio}\n"})
    with pytest.raises(SeedkitError, match="has no utt2spk") as err:
        validate_data_dir(d)
    assert err.value.path == str(d / "utt2spk")
    with pytest.raises(SeedkitError, match="data directory not found"):
        validate_data_dir(tmp_path / "nope")


def test_validator_segments_errors(tmp_path, audio):
    files = {"wav.scp": f"rec1 {audio}\n", "segments": "s-1 rec1 2 1\n", "utt2spk": "s-1 s\n"}
    d = write_dir(tmp_path / "d", files)
    with pytest.raises(SeedkitError, match="0 <= start < end") as err:
        validate_data_dir(d)
    assert err.value.line == 1
    files["segments"] = "s-1 rec2 0 1\n"
    d = write_dir(tmp_path / "d", files)
    with pytest.raises(SeedkitError, match=r"keys of segments missing, first \['rec2'\]"):
        validate_data_dir(d)
    files["wav.scp"] += f"rec2 {audio}\n"  # rec1 is used by no segment: allowed, as in Kaldi
    assert len(validate_data_dir(write_dir(tmp_path / "d", files))) == 1


def test_no_spk_sort_option(tmp_path, audio):
    d = write_dir(tmp_path / "d", with_change(audio, utt2spk="a-1 a\na-2 b\nb-1 a\n"))
    dd = validate_data_dir(d, check_files=False, check_spk_sort=False)
    assert len(dd) == 3


# --------------------------------------------------------------------------- fix
def test_fix_data_dir_sorts_drops_and_counts(tmp_path, audio):
    files = {
        "wav.scp": f"b-1 {audio}\na-1 {audio}\na-2 {audio}\nc-9 {audio}\n",  # c-9: no utt2spk
        "utt2spk": "a-2 a\na-1 a\nb-1 b\nb-2 b\n",  # b-2: no audio
        "utt2dur": "a-1 1\nb-1 2\nb-2 3\n",  # a-2: no duration
        "spk2utt": "a a-2\n",  # wrong: rebuilt
    }
    d = write_dir(tmp_path / "d", files)
    assert fix_data_dir(d) == {"kept": 2, "dropped": 3}
    assert (d / "utt2spk").read_text() == "a-1 a\nb-1 b\n"
    assert (d / "wav.scp").read_text() == f"a-1 {audio}\nb-1 {audio}\n"
    assert (d / "spk2utt").read_text() == "a a-1\nb b-1\n"
    validate_data_dir(d)
    assert fix_data_dir(d) == {"kept": 2, "dropped": 0}  # idempotent


def test_fix_data_dir_keeps_nothing_is_an_error(tmp_path, audio):
    files = {"wav.scp": f"x-1 {audio}\n", "utt2spk": "a-1 a\n"}
    d = write_dir(tmp_path / "d", files)
    with pytest.raises(SeedkitError, match="no utterance is in every table"):
        fix_data_dir(d)
    assert (d / "utt2spk").read_text() == "a-1 a\n"  # untouched


def test_fix_data_dir_duplicate_is_an_error(tmp_path, audio):
    d = write_dir(tmp_path / "d", {"wav.scp": f"a-1 {audio}\n", "utt2spk": "a-1 a\na-1 a\n"})
    with pytest.raises(SeedkitError, match="duplicate key"):
        fix_data_dir(d)


# --------------------------------------------------------------------------- subset, copy
def test_subset_and_copy(tmp_path, audio):
    dd = load_data_dir(write_dir(tmp_path / "src", basic_files(audio)))
    sub = subset_data_dir(dd, ["b-1", "a-2", "zz"])  # unknown ids ignored
    assert sub.utts == ["a-2", "b-1"]
    assert sub.wav_scp == {"a-2": PIPE, "b-1": str(audio)}
    assert sub.extra["utt2env"] == {"a-2": "music", "b-1": "noise"}
    assert subset_by_speakers(dd, ["a"]).utts == ["a-1", "a-2"]
    ren = rename_data_dir(dd, lambda u: "n-" + u, lambda s: "n-" + s)
    assert ren.utt2spk == {"n-a-1": "n-a", "n-a-2": "n-a", "n-b-1": "n-b"}
    assert list(ren.wav_scp) == ["n-a-1", "n-a-2", "n-b-1"]
    assert ren.extra["utt2env"]["n-a-2"] == "music"
    write_data_dir(ren, tmp_path / "ren")
    validate_data_dir(tmp_path / "ren")


# --------------------------------------------------------------------------- split
def many_speakers(tmp_path: Path, sizes: list[int]) -> Path:
    utts = [(f"s{i:02d}-{j:03d}", f"s{i:02d}") for i, n in enumerate(sizes) for j in range(n)]
    return write_dir(tmp_path / "big", {
        "wav.scp": "".join(f"{u} x.wav\n" for u, _ in utts),
        "utt2spk": "".join(f"{u} {s}\n" for u, s in utts),
        "utt2env": "".join(f"{u} clean\n" for u, _ in utts),
    })


@pytest.mark.parametrize("sizes,n", [([10, 1, 1], 3), ([3, 7, 1, 1, 9, 2, 2, 5], 4),
                                     ([1] * 5, 5), ([4, 4, 4], 1)])
def test_split_by_speaker(tmp_path, sizes, n):
    dd = load_data_dir(many_speakers(tmp_path, sizes))
    parts = split_data_dir(dd, n)
    assert len(parts) == n and all(len(p) > 0 for p in parts)
    assert [u for p in parts for u in p.utts] == dd.utts  # contiguous, all covered, once
    speakers = [set(p.utt2spk.values()) for p in parts]
    assert sum(map(len, speakers)) == len(set().union(*speakers))  # no speaker in two parts
    assert all(set(p.extra["utt2env"]) == set(p.utt2spk) for p in parts)


def test_split_by_speaker_balances(tmp_path):
    dd = load_data_dir(many_speakers(tmp_path, [5] * 12))
    assert [len(p) for p in split_data_dir(dd, 4)] == [15, 15, 15, 15]


def test_split_by_utt(tmp_path):
    dd = load_data_dir(many_speakers(tmp_path, [10, 1, 1]))
    parts = split_data_dir(dd, 5, by="utt")
    assert [u for p in parts for u in p.utts] == dd.utts
    assert [len(p) for p in parts] == [3, 3, 2, 2, 2]  # as Kaldi: the first parts one larger


def test_split_too_many_parts(tmp_path):
    dd = load_data_dir(many_speakers(tmp_path, [2, 2]))
    with pytest.raises(SeedkitError, match=r"cannot split 2 speakers into 3 parts; use fewer "
                       r"jobs \(num_parts\) or split by utterance \(by='utt'\)$"):
        split_data_dir(dd, 3)
    assert len(split_data_dir(dd, 3, by="utt")) == 3


def test_write_split_layout_reuse_and_refresh(tmp_path):
    d = many_speakers(tmp_path, [2, 3, 4])
    root = write_split(load_data_dir(d), d, 2)
    assert root == d / "split2" and (root / "1" / "spk2utt").is_file()
    validate_data_dir(root / "2", check_files=False)
    before = (root / "1" / "wav.scp").stat().st_mtime_ns
    write_split(load_data_dir(d), d, 2)  # unchanged data: reused
    assert (root / "1" / "wav.scp").stat().st_mtime_ns == before
    (d / "wav.scp").write_text((d / "wav.scp").read_text().replace("x.wav", "y.wav"))
    write_split(load_data_dir(d), d, 2)  # changed content (same utterances): rewritten
    assert "y.wav" in (root / "1" / "wav.scp").read_text()
    assert write_split(load_data_dir(d), d, 3, by="utt") == d / "split3utt"


@pytest.mark.parametrize("module,argv,option", [
    (validate_cli, ["--no-check-files"], "--no-spk-sort"),
    (split_cli, [], "--per-utt"),  # split's switch that drops the order check
])
def test_speaker_order_error_names_the_commands_option(tmp_path, capsys, module, argv, option):
    d = write_dir(tmp_path / "d", {"utt2spk": "a-1 b\nb-1 a\n", "spk2utt": "a b-1\nb a-1\n",
                                   "wav.scp": "a-1 x.wav\nb-1 y.wav\n"})
    with pytest.raises(SeedkitError) as err:
        validate_data_dir(d, check_files=False)
    assert err.value.message.endswith("(or pass check_spk_sort=False)")  # the library's words
    parts = ["2"] if module is split_cli else []
    assert run_main(module.main, prog="p", argv=[*argv, str(d), *parts]) == 1
    assert capsys.readouterr().err == (
        f"ERROR (p): {d}/utt2spk:2: utterance 'b-1' (speaker 'a') is out of speaker order: "
        "sorted utterance ids must also be sorted by speaker; make every utterance id start with "
        f"'<speaker>-' (or pass {option})\n")
    assert not (d / "split2").exists()
