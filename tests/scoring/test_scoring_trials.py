"""The trial reader's column path gives what its checking parser gives; score files; errors
with file:line."""

from __future__ import annotations

import numpy as np
import pytest

from seedkit.data.trials import _checked, as_trial_list, line_shape, read_trial_list, read_trials
from seedkit.errors import SeedkitError
from seedkit.scoring.keyrows import KaldiLines
from seedkit.scoring.scorefile import read_scores, write_scores


@pytest.mark.parametrize("text", [
    "a b target\nc d nontarget\n",
    "a b target\nc d nontarget",  # no final newline
    "1 id1/v/1.wav id2/v/2.wav\n0 id1/v/1.wav id3/x/9.wav\n",
])
def test_fast_equals_foundation_reader(tmp_path, text):
    p = tmp_path / "t"
    p.write_text(text)
    fast = read_trial_list(p)
    ref = as_trial_list(read_trials(p))
    assert fast.enroll == ref.enroll and fast.test == ref.test
    np.testing.assert_array_equal(fast.target, ref.target)
    assert line_shape(text.encode()) is not None  # the column path read it
    slow = _checked(text, str(p), "kaldi", unlabelled_ok=True)
    assert slow.enroll == fast.enroll and list(slow.target) == list(fast.target)


def test_unlabelled_for_scoring_only(tmp_path):
    p = tmp_path / "t"
    p.write_text("a b\nc d\n")
    tl = read_trial_list(p)
    assert tl.enroll == ["a", "c"] and tl.target is None
    with pytest.raises(SeedkitError, match="no target/nontarget labels"):
        read_trial_list(p, require_labels=True)
    p.write_text("a b\nc d target\n")
    with pytest.raises(SeedkitError, match=r"t:2: .*this line has 3 fields"):
        read_trial_list(p)


@pytest.mark.parametrize("text,where", [
    # fields split unevenly over lines, so the file's field count is a multiple of 3 (of 2):
    # read line by line, never as columns
    ("a b\ntarget c d target\n", ":2: .*this line has 4 fields"),
    ("a target\ntarget c d target\n", ":2: .*this line has 4 fields"),
    ("a b c\nd\n", ":1: expected '<enroll> <test> target|nontarget'"),
    ("1 b target\n0 a.wav b.wav\n", ":2: line is in voxceleb form but the file started in kaldi"),
    ("a b\n\n", ":2: empty line"),
    ("a b target\n\nc d target\n", ":2: empty line"),
    ("a b target\nc d maybe\n", ":2: expected"),
    ("a b target\n1 x.wav y.wav\n", ":2: line is in voxceleb form"),
    ("a b target x\n", ":1: expected at most 3 fields"),
])
def test_bad_lines_name_the_line(tmp_path, text, where):
    p = tmp_path / "t"
    p.write_text(text)
    with pytest.raises(SeedkitError, match=where):
        read_trial_list(p)


def test_scores_roundtrip_and_errors(tmp_path):
    s = np.array([0.1, -2.5e-7, 3.0], dtype=np.float32)
    write_scores(tmp_path / "s", ["a", "b", "c"], ["x", "y", "z"], s)
    back = read_scores(tmp_path / "s")
    assert back.enroll == ["a", "b", "c"]
    np.testing.assert_array_equal(back.scores.astype(np.float32), s)
    (tmp_path / "s").write_text("a x 0.1\nb y\n")
    with pytest.raises(SeedkitError, match=r"s:2: expected '<enroll> <test> <score>'"):
        read_scores(tmp_path / "s")
    (tmp_path / "s").write_text("a x 0.1\nb y high\n")
    with pytest.raises(SeedkitError, match="s:2: score 'high' is not a number"):
        read_scores(tmp_path / "s")
    (tmp_path / "s").write_text("a x inf\n")
    with pytest.raises(SeedkitError, match="s:1: score is inf"):
        read_scores(tmp_path / "s")


@pytest.mark.parametrize("text,form", [
    ("a b target\nc d nontarget", "kaldi"),
    ("1 x.wav y.wav\n0 x.wav z.wav\n", "voxceleb"),
    ("1 x target\n", "kaldi"),
    ("a b\nc d\n", "unlabelled"),
    ("a b\nc d target\n", None),
    ("a  b target\n", None),
    ("a b target\n\n", None),
    ("a b target\r\n", None),
])
def test_line_shape_forms(text, form):
    shape = line_shape(text.encode())
    assert (None if shape is None else shape.form) == form
    assert (KaldiLines.parse(text.encode()) is not None) == (form == "kaldi")


@pytest.mark.parametrize("text", [
    "a\tb target\nc d nontarget\n",  # a tab: split like any whitespace
    "a b target\r\nc d nontarget\r\n",  # CRLF
    "a\u00a0b c target\n",  # a no-break space inside the first field splits it (str.split)
    "a\x1cb target\n",  # an ASCII separator str.split splits on
])
def test_other_whitespace_read_by_the_checking_parser(tmp_path, text):
    p = tmp_path / "t"
    p.write_text(text)
    try:
        want = _checked(text, str(p), "kaldi", unlabelled_ok=True)
    except SeedkitError as err:
        with pytest.raises(SeedkitError) as got_err:
            read_trial_list(p)
        assert str(got_err.value) == str(err)
        return
    got = read_trial_list(p)
    assert (got.enroll, got.test, list(got.target)) == (want.enroll, want.test, list(want.target))


def test_read_trials_wants_labels(tmp_path):
    p = tmp_path / "t"
    p.write_text("a b\nc d\n")
    with pytest.raises(SeedkitError, match=r"t:1: expected at least 3 fields, got 2"):
        read_trials(p)
    p.write_text("   \n")
    with pytest.raises(SeedkitError, match=r"t:0: trials file is empty"):
        read_trials(p)
