"""Held-out eval sets: voices (language and variant) and environments (noises, RIRs) that the
training set never sees; valid data dirs with trials; same bytes again; bad input is one line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from seedkit.corpus import CorpusConfig, make_mini_corpus
from seedkit.corpus.evalsets import trials_hint
from seedkit.corpus.heldout import SETS, make_heldout_sets
from seedkit.data.datadir import validate_data_dir
from seedkit.data.trials import read_trials
from seedkit.errors import OptionError, SeedkitError, run_main


def _config() -> CorpusConfig:
    return CorpusConfig(
        seed=7, num_train_speakers=4, train_utts_per_speaker=3, num_eval_speakers=9,
        eval_utts_per_speaker=6, num_babble_speakers=6, babble_utts_per_speaker=2,
        babble_talkers=(2, 3), min_dur=1.5, max_dur=3.0, trials_per_set=200,
        mix_speakers_per_env=3, noises_per_kind=2, eval_noises_per_kind=2, music_per_kind=1,
        eval_music_per_kind=1, rooms_per_type=1, eval_rooms_per_type=1, rirs_per_room=2,
        noise_dur=(3.0, 5.0), jobs=2)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    make_mini_corpus(root / "corpus", _config())
    summary = make_heldout_sets(root / "corpus", root / "heldout", num_speakers=6,
                                utts_per_speaker=6, trials_per_set=100, seed=3)
    return root, summary


def _digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_voices_are_held_out(made):
    root, summary = made
    corpus = json.loads((root / "corpus" / "corpus.json").read_text())
    train = [s for s in corpus["speakers"] if s["subset"] == "train"]
    held = summary["speakers"]
    assert len(held) == 6
    assert not {s["language"] for s in held} & {s["language"] for s in train}
    assert not {s["variant"] for s in held} & {s["variant"] for s in train}
    # and no held-out voice is any corpus speaker's language (eval and babble included)
    assert not {s["language"] for s in held} & {s["language"] for s in corpus["speakers"]}
    assert json.loads((root / "heldout" / "heldout.json").read_text()) == summary


def test_default_size_keeps_held_out_variants():
    """The default corpus has 800 training voices; its reserved variants are what no training
    speaker uses, so held-out voices exist (a draw without them would use every variant)."""
    from seedkit.corpus.heldout import heldout_speakers
    from seedkit.corpus.voices import draw_speakers

    cfg = CorpusConfig(seed=777)
    train = [s.to_dict() for s in draw_speakers(cfg)["train"]]
    assert len(train) == 800 and cfg.heldout_variants
    held, _, variants = heldout_speakers(cfg, train, 30, seed=777)
    assert set(variants) == set(cfg.heldout_variants)
    assert {s.variant for s in held} <= set(cfg.heldout_variants)
    free = dataclasses.replace(cfg, heldout_variants=())
    free_train = [s.to_dict() for s in draw_speakers(free)["train"]]
    assert {s["variant"] for s in free_train} == set(cfg.variants)  # none would be left
    with pytest.raises(SeedkitError, match="0 unused variants.*--heldout-variants"):
        heldout_speakers(free, free_train, 30, seed=777)


def test_environments_are_held_out(made):
    root, summary = made
    corpus = json.loads((root / "corpus" / "corpus.json").read_text())
    train_recs = {r["id"] for r in corpus["env_recordings"] if not r["held_out"]}
    used_noise, used_rir = set(), set()
    for name in SETS:
        for line in (root / "heldout" / "eval_sets" / name / "utt2env").read_text().splitlines():
            env = line.split()[1]
            if env != "clean":
                noise, rir = env.split("+")
                used_noise.add(noise)
                if rir != "none":
                    used_rir.add(rir)
    assert used_noise and used_rir
    assert not used_noise & train_recs
    assert used_noise <= set(summary["noises"]) and used_rir <= set(summary["rirs"])
    # the training libraries (what stage 3 draws pairs from) hold none of them
    train_files = {p.stem for p in (root / "corpus" / "musan").rglob("*.wav")}
    train_rirs = {ln.split()[1] for p in (root / "corpus" / "RIRS_NOISES").rglob("rir_list")
                  for ln in p.read_text().splitlines()}
    assert train_files and train_rirs  # the checks below look at something
    assert not used_noise & train_files
    assert not used_rir & train_rirs


def test_sets_are_data_dirs_with_trials(made):
    root, summary = made
    for name in SETS:
        d = root / "heldout" / "eval_sets" / name
        dd = validate_data_dir(d, check_files=True)
        trials = read_trials(d / "trials")
        assert len(trials) == 100 and sum(t.target for t in trials) == 50
        assert {t.enroll for t in trials} | {t.test for t in trials} <= set(dd.utt2spk)
        assert all(dd.wav_scp[u].startswith(str(root / "heldout")) for u in dd.wav_scp)
    env = dict(ln.split() for ln in
               (root / "heldout/eval_sets/heldout_rev0/utt2env").read_text().splitlines())
    rev = [u for u in env if u.endswith("-rev0")]
    assert rev and all("+" in env[u] and not env[u].endswith("+none") for u in rev)
    assert summary["sets"]["heldout_rev0"]["corrupted"] == len(rev)


def test_same_bytes_again(made, tmp_path):
    root, _ = made
    make_heldout_sets(root / "corpus", tmp_path / "again", num_speakers=6, utts_per_speaker=6,
                      trials_per_set=100, seed=3, jobs=1)
    a, b = root / "heldout", tmp_path / "again"
    for name in SETS:
        for table in ("trials", "utt2env", "utt2spk"):
            assert (a / "eval_sets" / name / table).read_bytes() == \
                (b / "eval_sets" / name / table).read_bytes()
        assert _digest(a / "eval_sets" / name / "wav") == _digest(b / "eval_sets" / name / "wav")


def test_bad_input_is_one_error(made, tmp_path, capsys):
    from seedkit.bin.make_heldout_sets import main

    root, _ = made
    for argv, message in (
            ([str(tmp_path / "none"), str(tmp_path / "out")], "no corpus.json"),
            ([str(root / "corpus"), str(root / "heldout")], "not empty"),
            (["--num-speakers", "1", str(root / "corpus"), str(tmp_path / "o")], ">= 2"),
            (["--jobs", "0", str(root / "corpus"), str(tmp_path / "o")], "--jobs")):
        status = run_main(main, "seedkit-make-heldout-sets", argv)
        errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
        assert status == 1 and len(errors) == 1 and message in errors[0], errors
        assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_too_few_pairs_hint_names_the_callers_options():
    """The library's hint names fields; each command names its own flags (the mini corpus's are
    the text it always printed, the held-out sets' their own --num-speakers/--utts-per-speaker)."""
    err = OptionError("too few pairs; ", *trials_hint())
    assert err.message == ("too few pairs; raise num_eval_speakers or eval_utts_per_speaker, or "
                           "lower trials_per_set")
    assert err.format("p") == ("ERROR (p): too few pairs; raise --num-eval-speakers or "
                               "--eval-utts-per-speaker, or lower --trials-per-set")
    err = OptionError("too few pairs; ", *trials_hint("num_speakers", "utts_per_speaker"))
    assert err.format("p").endswith("raise --num-speakers or --utts-per-speaker, or lower "
                                    "--trials-per-set")
