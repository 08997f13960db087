"""Trial lists: Kaldi and VoxCeleb forms, the key mapping, round trips and rejections."""

from __future__ import annotations

import pytest

from seedkit.data.trials import Trial, read_trials, voxceleb_path_to_key, write_trials
from seedkit.errors import SeedkitError


def test_kaldi_form_round_trip(tmp_path):
    text = "a-1 b-2 target\na-1 c-3 nontarget\n"
    (tmp_path / "trials").write_text(text)
    trials = read_trials(tmp_path / "trials")
    assert trials == [Trial("a-1", "b-2", True), Trial("a-1", "c-3", False)]
    write_trials(tmp_path / "out", trials)
    assert (tmp_path / "out").read_text() == text


def test_voxceleb_form_key_mapping(tmp_path):
    (tmp_path / "veri").write_text(
        "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav\n"
        "0 id10270/x6uYqmx31kE/00001.wav id10300/ize_eiCFEg0/00003.wav\n")
    trials = read_trials(tmp_path / "veri")
    assert trials == [
        Trial("id10270-x6uYqmx31kE-00001", "id10270-8jEAjG6SegY-00008", True),
        Trial("id10270-x6uYqmx31kE-00001", "id10300-ize_eiCFEg0-00003", False),
    ]
    as_paths = read_trials(tmp_path / "veri", key_mapping="path")
    assert as_paths[1] == Trial("id10270/x6uYqmx31kE/00001.wav",
                                "id10300/ize_eiCFEg0/00003.wav", False)
    # converted on input: written back in Kaldi form with the mapped keys
    write_trials(tmp_path / "kaldi", trials)
    assert (tmp_path / "kaldi").read_text().splitlines()[0] == \
        "id10270-x6uYqmx31kE-00001 id10270-8jEAjG6SegY-00008 target"
    # and the VoxCeleb form round-trips with key_mapping="path"
    write_trials(tmp_path / "vox", as_paths, form="voxceleb")
    assert (tmp_path / "vox").read_text() == (tmp_path / "veri").read_text()


def test_key_mapping_function():
    assert voxceleb_path_to_key("id1/yt/00001.wav") == "id1-yt-00001"
    assert voxceleb_path_to_key("id1/yt/00001") == "id1-yt-00001"


@pytest.mark.parametrize("text,line,words", [
    ("a b target\n1 x.wav y.wav\n", 2, "line is in voxceleb form but the file started in kaldi"),
    ("a b target\na c maybe\n", 2, "expected '<enroll> <test> target|nontarget'"),
    ("a b target\na c\n", 2, "expected at least 3 fields, got 2"),
    ("a b target extra\n", 1, "expected at most 3 fields, got 4"),
    ("", 0, "trials file is empty"),
    ("a b target\n\n", 2, "empty line"),
])
def test_trials_rejections(tmp_path, text, line, words):
    (tmp_path / "trials").write_text(text)
    with pytest.raises(SeedkitError) as err:
        read_trials(tmp_path / "trials")
    assert (err.value.path, err.value.line) == (str(tmp_path / "trials"), line)
    assert words in err.value.message


def test_trials_bad_arguments(tmp_path):
    with pytest.raises(SeedkitError, match="file not found"):
        read_trials(tmp_path / "nope")
    (tmp_path / "t").write_text("a b target\n")
    with pytest.raises(SeedkitError, match="unknown key mapping"):
        read_trials(tmp_path / "t", key_mapping="x")
    with pytest.raises(SeedkitError, match="unknown trials form"):
        write_trials(tmp_path / "o", [], form="csv")
