"""Fast trial / score file readers: same result as the checking parsers, errors with file:line."""

from __future__ import annotations

import numpy as np
import pytest

from seedkit.data.trials import read_trials
from seedkit.errors import SeedkitError
from seedkit.scoring.scorefile import read_scores, write_scores
from seedkit.scoring.trialio import _slow, as_trial_list, read_trial_list


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
    slow = _slow(text, str(p))
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
