"""scp reading: plain binary float/double vectors and matrices are read straight from the mapped
archive, everything else (compressed matrices, text entries) through kaldiio; both give what
kaldiio gives, and a truncated or non-finite entry is still one error naming the scp line."""

from __future__ import annotations

import kaldiio
import numpy as np
import pytest

from seedkit.embio import _read_binary_array, read_embeddings
from seedkit.errors import SeedkitError


def _write(tmp_path, items, **kw):
    ark, scp = tmp_path / "x.ark", tmp_path / "x.scp"
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}", **kw) as w:
        for k, v in items:
            w(k, v)
    return ark, scp


@pytest.mark.parametrize("dtype, shape", [(np.float32, (7,)), (np.float64, (5,)),
                                          (np.float32, (3, 4)), (np.float64, (2, 6))])
def test_binary_entries_equal_kaldiio(tmp_path, dtype, shape):
    r = np.random.default_rng(0)
    items = [(f"k{i}", r.normal(size=shape).astype(dtype)) for i in range(5)]
    ark, scp = _write(tmp_path, items)
    got = read_embeddings(f"scp:{scp}")
    want = dict(kaldiio.load_scp(str(scp)))
    assert list(got) == [k for k, _ in items]
    for k in want:
        assert got[k].dtype == np.float32 and got[k].shape == shape
        np.testing.assert_array_equal(got[k], want[k].astype(np.float32))
    # the fast path really took them (not the kaldiio fallback)
    data = ark.read_bytes()
    off = int(scp.read_text().split()[1].rsplit(":", 1)[1])
    np.testing.assert_array_equal(_read_binary_array(data, off), items[0][1].astype(np.float32))


def test_compressed_matrices_fall_back_to_kaldiio(tmp_path):
    r = np.random.default_rng(1)
    items = [(f"k{i}", r.normal(size=(4, 8)).astype(np.float32)) for i in range(3)]
    ark, scp = _write(tmp_path, items, compression_method=2)
    off = int(scp.read_text().split()[1].rsplit(":", 1)[1])
    assert _read_binary_array(ark.read_bytes(), off) is None
    got = read_embeddings(f"scp:{scp}")
    want = dict(kaldiio.load_scp(str(scp)))
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_truncated_and_non_finite_entries_are_errors(tmp_path):
    r = np.random.default_rng(2)
    items = [(f"k{i}", r.normal(size=16).astype(np.float32)) for i in range(3)]
    ark, scp = _write(tmp_path, items)
    assert _read_binary_array(ark.read_bytes()[:-8], int(scp.read_text().split()[-1]
                                                          .rsplit(":", 1)[1])) is None
    ark.write_bytes(ark.read_bytes()[:-8])  # the last vector loses two floats
    with pytest.raises(SeedkitError, match="truncated or corrupt") as err:
        read_embeddings(f"scp:{scp}")
    assert err.value.line == 3
    bad = [(f"k{i}", np.full(16, np.nan if i == 1 else 1.0, np.float32)) for i in range(3)]
    ark, scp = _write(tmp_path, bad)
    with pytest.raises(SeedkitError, match="NaN or inf") as err:
        read_embeddings(f"scp:{scp}")
    assert err.value.line == 2
    huge = [("k0", np.full(16, 3e37, np.float32))]  # a float32 sum would overflow
    ark, scp = _write(tmp_path, huge)
    assert read_embeddings(f"scp:{scp}")["k0"][0] == np.float32(3e37)
