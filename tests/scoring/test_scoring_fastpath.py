"""The fast scoring path writes the same bytes as the checking path: numpy '%.9g' formatting,
lines joined by numpy, trial keys mapped to rows by numpy, the bulk scp reader, threaded
pair_dot."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from seedkit.data.trials import read_trial_list
from seedkit.embio import iter_embeddings, read_vector_scp, write_embeddings
from seedkit.errors import SeedkitError
from seedkit.scoring import score, scorefile
from seedkit.scoring.index import pair_dot
from seedkit.scoring.keyrows import kaldi_trial_rows
from seedkit.scoring.score import load_embedding_set, score_sets, score_trials_file
from seedkit.scoring.scorefile import write_scores
from seedkit.scoring.textcols import format_g9, join_lines, key_column

SPECIAL = [0.0, -0.0, 1.0, -1.0, 10.0, 100.0, 1e8, 1e9, 123456789.5, 0.5, 9.9999999996,
           99999999.95, 999999999.5, 1e-4, 1e-5, 0.00012345, 1.5e-14, 1e-15, 1e22, 1e23,
           np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, 0.1, 0.30000000000000004,
           1.00000012, 1 / 3, 2 / 3, 1e21, 123456789012.0, 0.000099999999995, 1.0000000005,
           float(np.float32(0.1)), float(np.nextafter(1.0, 0)), 2.5e-5, 1e-300]


def _python(values) -> bytes:
    return "".join("%.9g\n" % v for v in np.asarray(values, np.float64).tolist()).encode()


@pytest.mark.parametrize("kind", ["special", "float32_cosines", "float32_small", "wide"])
def test_format_g9_is_pythons_percent_9g(kind):
    r = np.random.default_rng(5)
    values = {
        "special": np.array(SPECIAL),
        "float32_cosines": r.uniform(-1, 1, 100_000).astype(np.float32),
        "float32_small": (r.normal(size=50_000) * 1e-5).astype(np.float32),
        "wide": r.normal(size=50_000) * 10.0 ** r.integers(-25, 26, 50_000),
    }[kind]
    assert join_lines([format_g9(values)]) == _python(values)


def test_format_g9_leaves_rounding_ties_to_python():
    # exact decimal ties at the 10th digit: round-half-even decides, as Python does
    values = np.array([0.5 + k * 2.0 ** -20 for k in range(2000)] + [1.25, 2.5e-9, 12.5])
    assert join_lines([format_g9(values)]) == _python(values)


def test_join_lines_and_key_columns():
    keys = key_column(["a", "bb-1", "c/x"])
    assert join_lines([keys, keys[::-1], format_g9(np.array([1.5, -2.0, 0.25]))]) == \
        b"a c/x 1.5\nbb-1 bb-1 -2\nc/x a 0.25\n"
    assert key_column(["caf\u00e9"]) is None  # not ASCII: Python writes it
    assert key_column(["a\0b"]) is None


def spy(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that records each call's arguments; returns the
    list of calls (what shows which path ran)."""
    calls: list = []
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize("keys,numpy_path", [(["u1", "spk-2", "u3"], True),
                                             (["u1", "sp\u00e9k", "u3"], False)])
def test_write_scores_bytes_do_not_depend_on_the_path(tmp_path, monkeypatch, keys, numpy_path):
    r = np.random.default_rng(1)
    enroll = [keys[i] for i in r.integers(0, 3, 300)]
    test = [keys[i] for i in r.integers(0, 3, 300)]
    scores = r.normal(size=300).astype(np.float32)
    joined = spy(monkeypatch, scorefile, "join_lines")  # the numpy writer's line builder
    write_scores(tmp_path / "s", enroll, test, scores)
    assert bool(joined) == numpy_path  # ASCII keys: numpy writes; else Python
    want = "".join(f"{a} {b} {'%.9g' % v}\n" for a, b, v in zip(enroll, test, scores.tolist()))
    assert (tmp_path / "s").read_bytes() == want.encode("utf-8")


def test_key_rows_only_for_single_space_kaldi_lists():
    keys = ["a", "bb", "c-1", "target-x", "k" * 20, "k" * 19 + "j"]

    def rows(text: bytes, test_keys=None):
        got = kaldi_trial_rows(text, keys, test_keys)
        return None if got is None else (got[0].tolist(), got[1].tolist())

    assert rows(b"a bb target\nc-1 a nontarget\n" + b"k" * 20 + b" target-x target") == \
        ([0, 2, 4], [1, 0, 3])  # no final newline; keys longer than one word
    assert rows(b"a " + b"k" * 19 + b"j nontarget\n") == ([0], [5])  # differs in the last byte
    assert rows(b"a bb target\n", ["x", "a", "bb"]) == ([0], [2])  # test side: its own keys
    assert rows(b"a bb target\n", ["x", "a"]) is None  # absent on the test side
    assert rows(b"a zz target\n") is None  # absent key
    assert rows(b"a " + b"k" * 21 + b" target\n") is None  # longer than every key
    assert rows(b"1 a.wav bb.wav\n") is None  # VoxCeleb form
    assert rows(b"a bb target\r\n") is None
    assert rows(b"a bb target\n\nbb a target\n") is None
    assert rows(b"a  bb target\n") is None  # two spaces: the checking reader takes it
    assert rows(b"a\tbb target\n") is None
    assert rows(b"a bb\nbb a\n") is None  # unlabelled
    assert rows(b"a bb c-1 target\nbb target\n") is None  # 4 + 2 fields
    assert rows(b"a bb xtarget\n") is None
    assert rows(b"a bb nontarge\n") is None
    assert rows(b"a bb targe\n") is None
    assert rows(gzip.compress(b"a bb target\n")) is None
    assert rows(b"") is None


def test_key_rows_with_many_keys_and_colliding_slots():
    r = np.random.default_rng(8)
    keys = [f"id{i:05d}-{r.integers(0, 1 << 30):x}-utt" for i in range(5000)]
    a, b = r.integers(0, 5000, 20_000), r.integers(0, 5000, 20_000)
    text = "".join(f"{keys[i]} {keys[j]} {'target' if i == j else 'nontarget'}\n"
                   for i, j in zip(a, b)).encode()
    ei, ti = kaldi_trial_rows(text, keys, None)
    np.testing.assert_array_equal(ei, a)
    np.testing.assert_array_equal(ti, b)


def _setup(tmp_path, n_keys=50, n_trials=2000, extra_keys=()):
    r = np.random.default_rng(2)
    keys = [f"spk{i % 7}-utt{i:03d}" for i in range(n_keys)] + list(extra_keys)
    emb = r.normal(size=(len(keys), 16)).astype(np.float32)
    write_embeddings(f"ark,scp:{tmp_path / 'e.ark'},{tmp_path / 'e.scp'}", zip(keys, emb))
    a, b = r.integers(0, n_keys, n_trials), r.integers(0, n_keys, n_trials)
    lines = [f"{keys[i]} {keys[j]} {'target' if i % 7 == j % 7 else 'nontarget'}"
             for i, j in zip(a, b)]
    (tmp_path / "trials").write_text("\n".join(lines) + "\n")
    return f"scp:{tmp_path / 'e.scp'}", tmp_path / "trials"


def _checking_path(trials, spec, out):
    """The scores as the checking reader + Python writer produce them."""
    tl = read_trial_list(trials)
    emb = load_embedding_set(spec)
    scored, scores = score_sets(tl, emb, emb)
    want = "".join(f"{a} {b} {'%.9g' % v}\n" for a, b, v in
                   zip(scored.enroll, scored.test, scores.tolist()))
    return want.encode()


@pytest.mark.parametrize("extra,fast", [((), True), (("target",), True),
                                        (("target", "caf\u00e9"), False)])
def test_fast_path_scores_equal_the_checking_path(tmp_path, monkeypatch, extra, fast):
    # keys named like a label take the fast path; a key that is not ASCII (no numpy key column)
    # sends the whole file through the checking path: the bytes are the same either way
    spec, trials = _setup(tmp_path, extra_keys=extra)
    rows = spy(monkeypatch, score, "score_rows")  # both paths score through it once
    checking = spy(monkeypatch, score, "score_sets")  # the checking reader's trial resolver
    written = spy(monkeypatch, score, "write_scores")
    score_trials_file(str(trials), spec, spec, str(tmp_path / "scores"))
    assert (len(rows), len(checking), len(written)) == (1, 0 if fast else 1, 1)
    # the fast path hands the writer numpy key columns, the checking path key lists
    assert isinstance(written[0][1], np.ndarray) == fast
    monkeypatch.undo()
    assert (tmp_path / "scores").read_bytes() == _checking_path(trials, spec, tmp_path)


def test_misshapen_lines_get_the_checking_readers_error(tmp_path):
    spec, trials = _setup(tmp_path)
    with open(trials, "a") as f:
        f.write("spk0-utt000 spk1-utt001 spk2-utt002 target\nspk3-utt003 target\n")
    with pytest.raises(SeedkitError) as err:
        score_trials_file(str(trials), spec, spec, str(tmp_path / "scores"))
    assert err.value.line == 2001
    assert not (tmp_path / "scores").exists()


def test_fast_path_missing_key_is_the_checking_paths_error(tmp_path):
    spec, trials = _setup(tmp_path)
    with open(trials, "a") as f:
        f.write("spk0-utt000 nobody target\n")
    with pytest.raises(SeedkitError, match="1 test key.*absent.*nobody"):
        score_trials_file(str(trials), spec, spec, str(tmp_path / "scores"))
    assert not (tmp_path / "scores").exists()
    score_trials_file(str(trials), spec, spec, str(tmp_path / "scores"), skip_missing=True)
    assert len((tmp_path / "scores").read_text().splitlines()) == 2000


def test_bulk_scp_reader_equals_entry_reader(tmp_path):
    r = np.random.default_rng(3)
    items = [(f"k{i}", r.normal(size=8).astype(np.float32)) for i in range(30)]
    write_embeddings(f"ark,scp:{tmp_path / 'a.ark'},{tmp_path / 'a.scp'}", items[:20])
    write_embeddings(f"ark,scp:{tmp_path / 'b.ark'},{tmp_path / 'b.scp'}", items[20:])
    # two archives, entries interleaved
    lines_a = (tmp_path / "a.scp").read_text().splitlines()
    lines_b = (tmp_path / "b.scp").read_text().splitlines()
    mixed = [x for pair in zip(lines_a, lines_b) for x in pair] + lines_a[10:]
    (tmp_path / "m.scp").write_text("\n".join(mixed) + "\n")
    for scp in ("a.scp", "m.scp"):
        spec = f"scp:{tmp_path / scp}"
        keys, mat = read_vector_scp(spec)
        want = list(iter_embeddings(spec))
        assert keys == [k for k, _ in want]
        np.testing.assert_array_equal(mat, np.stack([v for _, v in want]))
        assert mat.flags.writeable


def test_bulk_scp_reader_declines_what_the_entry_reader_checks(tmp_path):
    r = np.random.default_rng(4)
    vec = [(f"k{i}", r.normal(size=8).astype(np.float32)) for i in range(5)]
    write_embeddings(f"ark,scp:{tmp_path / 'v.ark'},{tmp_path / 'v.scp'}", vec)
    write_embeddings(f"ark,scp:{tmp_path / 'm.ark'},{tmp_path / 'm.scp'}",
                     [("m", np.ones((2, 8), np.float32))])
    assert read_vector_scp(f"scp:{tmp_path / 'm.scp'}") is None  # matrices
    assert read_vector_scp(f"ark:{tmp_path / 'v.ark'}") is None
    lines = (tmp_path / "v.scp").read_text().splitlines()
    (tmp_path / "dup.scp").write_text("\n".join(lines + lines[:1]) + "\n")
    assert read_vector_scp(f"scp:{tmp_path / 'dup.scp'}") is None
    ark = (tmp_path / "v.ark").read_bytes()
    (tmp_path / "v.ark").write_bytes(ark[:-3])  # truncated last vector
    assert read_vector_scp(f"scp:{tmp_path / 'v.scp'}") is None
    with pytest.raises(SeedkitError, match="truncated"):
        load_embedding_set(f"scp:{tmp_path / 'v.scp'}")
    bad = bytearray(ark)
    bad[-4:] = np.array([np.nan], np.float32).tobytes()
    (tmp_path / "v.ark").write_bytes(bytes(bad))
    assert read_vector_scp(f"scp:{tmp_path / 'v.scp'}") is None
    with pytest.raises(SeedkitError, match="NaN"):
        load_embedding_set(f"scp:{tmp_path / 'v.scp'}")


def test_threaded_pair_dot_is_bit_identical():
    r = np.random.default_rng(6)
    a = r.normal(size=(300, 8)).astype(np.float32)
    ia, ib = r.integers(0, 300, 300_000), r.integers(0, 300, 300_000)
    one = pair_dot(a, ia, a, ib, threads=1)
    np.testing.assert_array_equal(pair_dot(a, ia, a, ib, threads=3), one)
    np.testing.assert_allclose(one[:5], np.einsum("ij,ij->i", a[ia[:5]], a[ib[:5]]), rtol=1e-6)


def test_scoring_threads_follow_omp_num_threads(monkeypatch):
    from seedkit.scoring.index import scoring_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert scoring_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    assert 1 <= scoring_threads() <= 4
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= scoring_threads() <= 4
