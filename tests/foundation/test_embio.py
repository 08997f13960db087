"""Embedding archives: round trips for every specifier, atomic writes, pipes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from seedkit.embio import (
    EmbeddingWriter,
    iter_embeddings,
    parse_rspecifier,
    parse_wspecifier,
    read_embedding_matrix,
    read_embeddings,
    write_embeddings,
)
from seedkit.errors import SeedkitError

RNG = np.random.default_rng(0)
ITEMS = {
    "utt-a": RNG.standard_normal(8).astype(np.float32),
    "utt-b": RNG.standard_normal((3, 8)).astype(np.float32),  # multi-crop matrix
    "utt-c": RNG.standard_normal(8),  # float64 in, float32 out
}


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)  # file order preserved
    for k in want:
        assert got[k].dtype == np.float32
        np.testing.assert_array_equal(got[k], np.asarray(want[k], dtype=np.float32))


def test_ark_scp_round_trip(tmp_path):
    ark, scp = tmp_path / "x.ark", tmp_path / "x.scp"
    assert write_embeddings(f"ark,scp:{ark},{scp}", ITEMS.items()) == 3
    assert_same(read_embeddings(f"scp:{scp}"), ITEMS)
    assert_same(read_embeddings(f"ark:{ark}"), ITEMS)
    first = scp.read_text().splitlines()[0]
    assert first == f"utt-a {ark}:6"  # Kaldi offsets: just after "utt-a "
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_ark_only_and_kaldi_options(tmp_path):
    ark = tmp_path / "y.ark"
    write_embeddings(f"ark:{ark}", ITEMS.items())
    assert not (tmp_path / "y.scp").exists()
    assert_same(read_embeddings(f"ark,s,cs:{ark}"), ITEMS)


def test_matrix_reader(tmp_path):
    vecs = {f"u{i}": np.full(4, i, dtype=np.float32) for i in range(5)}
    write_embeddings(f"ark,scp:{tmp_path}/v.ark,{tmp_path}/v.scp", vecs.items())
    keys, mat = read_embedding_matrix(f"scp:{tmp_path}/v.scp")
    assert keys == list(vecs) and mat.shape == (5, 4) and mat[3, 0] == 3
    write_embeddings(f"ark,scp:{tmp_path}/m.ark,{tmp_path}/m.scp", ITEMS.items())
    with pytest.raises(SeedkitError, match="'utt-b' is a matrix") as err:
        read_embedding_matrix(f"scp:{tmp_path}/m.scp")
    assert (err.value.path, err.value.line) == (f"{tmp_path}/m.scp", 2)


def test_exception_inside_writer_leaves_nothing(tmp_path):
    ark, scp = tmp_path / "x.ark", tmp_path / "x.scp"
    with pytest.raises(RuntimeError):
        with EmbeddingWriter(f"ark,scp:{ark},{scp}") as w:
            w.write("a", np.ones(4))
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_rewrite_keeps_the_old_output(tmp_path):
    ark, scp = tmp_path / "x.ark", tmp_path / "x.scp"
    write_embeddings(f"ark,scp:{ark},{scp}", ITEMS.items())
    old = (ark.read_bytes(), scp.read_text())
    with pytest.raises(SeedkitError, match="duplicate embedding key 'k'"):
        write_embeddings(f"ark,scp:{ark},{scp}", [("k", np.ones(2)), ("k", np.ones(2))])
    assert (ark.read_bytes(), scp.read_text()) == old
    assert sorted(os.listdir(tmp_path)) == ["x.ark", "x.scp"]


def test_written_files_have_umask_permissions(tmp_path):
    write_embeddings(f"ark,scp:{tmp_path}/x.ark,{tmp_path}/x.scp", ITEMS.items())
    mask = os.umask(0)
    os.umask(mask)
    for name in ("x.ark", "x.scp"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("cut", [3, 16, 60])
def test_truncated_archive_names_scp_line(tmp_path, cut):
    # "cut" bytes removed from the end: inside the last vector's data (3), exactly its data (16:
    # kaldiio alone would return an empty vector), inside its header (60: "utt-c" is entry 3)
    ark, scp = tmp_path / "x.ark", tmp_path / "x.scp"
    vecs = {"utt-a": np.ones(4), "utt-b": np.ones(4), "utt-c": np.ones(4)}
    write_embeddings(f"ark,scp:{ark},{scp}", vecs.items())
    data = ark.read_bytes()
    entry = len(data) // 3
    ark.write_bytes(data[:-cut] if cut < entry else data[:2 * entry + 8])
    with pytest.raises(SeedkitError) as err:
        read_embeddings(f"scp:{scp}")
    assert (err.value.path, err.value.line) == (str(scp), 3)
    assert "cannot read 'utt-c'" in err.value.message and "truncated or corrupt" in str(err.value)
    with pytest.raises(SeedkitError) as err:
        read_embeddings(f"ark:{ark}")
    assert (err.value.path, err.value.line) == (str(ark), 3)
    assert "cannot read archive entry 3" in err.value.message


def test_scp_errors(tmp_path):
    scp = tmp_path / "x.scp"
    scp.write_text(f"a {tmp_path}/missing.ark:5\n")
    with pytest.raises(SeedkitError, match="archive .*missing.ark of 'a' does not exist") as err:
        read_embeddings(f"scp:{scp}")
    assert err.value.line == 1
    scp.write_text("a x.ark\n")
    with pytest.raises(SeedkitError, match="location 'x.ark' is not '<ark>:<offset>'"):
        list(iter_embeddings(f"scp:{scp}"))
    write_embeddings(f"ark,scp:{tmp_path}/y.ark,{scp}", [("a", np.ones(2))])
    scp.write_text(scp.read_text() * 2)
    with pytest.raises(SeedkitError, match="duplicate key 'a' \\(first on line 1\\)") as err:
        read_embeddings(f"scp:{scp}")
    assert err.value.line == 2
    with pytest.raises(SeedkitError, match="scp file not found"):
        read_embeddings(f"scp:{tmp_path}/none.scp")


def test_nan_is_rejected_with_its_place(tmp_path):
    write_embeddings(f"ark,scp:{tmp_path}/x.ark,{tmp_path}/x.scp",
                     [("ok", np.ones(3)), ("bad", np.array([1.0, np.nan, 0.0]))])
    with pytest.raises(SeedkitError, match="'bad' contains NaN or inf") as err:
        read_embeddings(f"scp:{tmp_path}/x.scp")
    assert err.value.line == 2
    assert np.isnan(read_embeddings(f"scp:{tmp_path}/x.scp", check_finite=False)["bad"][1])


@pytest.mark.parametrize("parse,spec,words", [
    (parse_wspecifier, "x.ark", "bad wspecifier"),
    (parse_wspecifier, "ark,scp:x.ark", "needs two paths"),
    (parse_wspecifier, "scp:x.scp", "bad wspecifier"),
    (parse_wspecifier, "ark,zz:x.ark", "unsupported option"),
    (parse_rspecifier, "x.scp", "bad rspecifier"),
    (parse_rspecifier, "scp:-", "scp from stdin is not supported"),
    (parse_rspecifier, "ark,scp:a,b", "bad rspecifier"),
    (parse_rspecifier, "ark:", "bad rspecifier"),
])
def test_bad_specifiers(parse, spec, words):
    with pytest.raises(SeedkitError, match=words):
        parse(spec)


def test_bad_keys_and_shapes(tmp_path):
    with pytest.raises(SeedkitError, match="empty or contains whitespace"):
        write_embeddings(f"ark:{tmp_path}/x.ark", [("a b", np.ones(2))])
    with pytest.raises(SeedkitError, match="must be a vector or matrix"):
        write_embeddings(f"ark:{tmp_path}/x.ark", [("a", np.ones((2, 2, 2)))])
    assert os.listdir(tmp_path) == []


WRITER = """
import numpy as np
from seedkit.embio import write_embeddings
write_embeddings("ark:-", [(f"k{i}", np.arange(i, i + 3)) for i in range(4)]
                 + [("mat", np.ones((2, 3)))])
"""
READER = """
import json
from seedkit.embio import read_embeddings
print(json.dumps({k: v.tolist() for k, v in read_embeddings("ark:-").items()}))
"""


def test_ark_pipe_between_processes():
    writer = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE)
    reader = subprocess.run([sys.executable, "-c", READER], stdin=writer.stdout,
                            capture_output=True, text=True, check=True)
    writer.stdout.close()
    assert writer.wait() == 0
    got = json.loads(reader.stdout)
    assert list(got) == ["k0", "k1", "k2", "k3", "mat"]
    assert got["k2"] == [2.0, 3.0, 4.0] and got["mat"] == [[1.0] * 3] * 2


READER_CLI = """
from seedkit.cli import entry
from seedkit.embio import read_embeddings
entry(lambda argv: len(read_embeddings("ark:-")) and 0)()
"""


def test_truncated_pipe_is_reported():
    data = subprocess.run([sys.executable, "-c", WRITER], capture_output=True, check=True).stdout
    reader = subprocess.run([sys.executable, "-c", READER_CLI], input=data[:-5],
                            capture_output=True)
    assert reader.returncode == 1
    last = reader.stderr.decode().strip().splitlines()[-1]
    assert last.startswith("ERROR (-c): <stdin>:5: cannot read archive entry 5")
