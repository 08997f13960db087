"""seedkit.data.combine (behind seedkit-combine-data-dir and utils/combine_data.sh): the union of
data dirs in both modes, and nothing at the destination when it fails."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from seedkit.data.combine import combine_data_dirs
from seedkit.data.datadir import DataDir, load_data_dir, write_data_dir
from seedkit.errors import SeedkitError


def _dd(path, utts, wav=None, dur=None):
    dd = DataDir(wav_scp=OrderedDict((u, (wav or {}).get(u, f"/audio/{u}.wav")) for u in utts),
                 utt2spk=OrderedDict((u, u.split("-")[0]) for u in utts))
    if dur is not None:
        dd.utt2dur = OrderedDict((u, dur) for u in utts)
    write_data_dir(dd, path)
    return path


def test_unique_keys_union_sorted_and_replaces_an_old_dest(tmp_path):
    a = _dd(tmp_path / "a", ["s2-x", "s1-y"], dur=1.5)
    b = _dd(tmp_path / "b", ["s1-a"], dur=2.0)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "segments").write_text("stale s 0 1\n")
    out = combine_data_dirs([a, b], dest)
    assert list(out.utt2spk) == ["s1-a", "s1-y", "s2-x"]
    got = load_data_dir(dest)
    assert dict(got.utt2dur) == {"s1-a": 2.0, "s1-y": 1.5, "s2-x": 1.5}
    assert got.segments is None and not (dest / "segments").exists()
    assert (dest / "spk2utt").read_text() == "s1 s1-a s1-y\ns2 s2-x\n"
    assert not list(tmp_path.glob(".out.combine.*"))


def test_utt2dur_dropped_unless_every_source_has_it(tmp_path):
    a = _dd(tmp_path / "a", ["s1-a"], dur=1.0)
    b = _dd(tmp_path / "b", ["s2-a"])
    assert combine_data_dirs([a, b], tmp_path / "out").utt2dur is None


def test_repeated_keys_need_the_same_bytes_pipes_the_same_text(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF1")
    (tmp_path / "y.wav").write_bytes(b"RIFF1")
    (tmp_path / "z.wav").write_bytes(b"RIFF2")
    a = _dd(tmp_path / "a", ["s1-a"], wav={"s1-a": str(tmp_path / "x.wav")})
    b = _dd(tmp_path / "b", ["s1-a", "s1-b"], wav={"s1-a": str(tmp_path / "y.wav")})
    out = combine_data_dirs([a, b], tmp_path / "u", allow_repeated_keys=True)
    assert out.wav_scp["s1-a"] == str(tmp_path / "x.wav") and len(out) == 2
    c = _dd(tmp_path / "c", ["s1-a"], wav={"s1-a": str(tmp_path / "z.wav")})
    with pytest.raises(SeedkitError, match="differs from"):
        combine_data_dirs([a, c], tmp_path / "v", allow_repeated_keys=True)
    assert not (tmp_path / "v").exists()
    p1 = _dd(tmp_path / "p1", ["s1-a"], wav={"s1-a": "sox x.wav -t wav - |"})
    p2 = _dd(tmp_path / "p2", ["s1-a"], wav={"s1-a": "sox y.wav -t wav - |"})
    combine_data_dirs([p1, p1], tmp_path / "w", allow_repeated_keys=True)
    with pytest.raises(SeedkitError, match="differs from"):
        combine_data_dirs([p1, p2], tmp_path / "w2", allow_repeated_keys=True)
    # the default mode refuses any repeated key
    with pytest.raises(SeedkitError, match="in two of the data dirs"):
        combine_data_dirs([a, b], tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_a_failed_union_leaves_an_existing_dest_alone(tmp_path):
    a = _dd(tmp_path / "a", ["s1-a"])
    dest = _dd(tmp_path / "out", ["s9-old"])
    with pytest.raises(SeedkitError):
        combine_data_dirs([a, a], dest)
    assert list(load_data_dir(dest).utt2spk) == ["s9-old"]
