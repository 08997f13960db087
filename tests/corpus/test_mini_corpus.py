"""The synthetic mini corpus: determinism, layout, speaker disjointness, eval-set construction
(balance, VC-Mix property, SNR), lhotse reading the environment library, and bad inputs.

One reduced corpus is generated per session (a few seconds); the determinism test generates a
second one with a different number of jobs and compares every file's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seedkit.corpus import CorpusConfig, make_mini_corpus
from seedkit.corpus.signal import rms, scale_noise
from seedkit.data.datadir import read_utt2x
from seedkit.data.trials import read_trials
from seedkit.errors import SeedkitError

SETS = ("eval_clean", "eval_mix", "eval_snr0", "eval_snr5", "eval_snr10", "eval_snr15")


def small_config(seed: int = 7, jobs: int = 2) -> CorpusConfig:
    """A corpus small enough for tests (about 130 utterances, 200 trials per set)."""
    return CorpusConfig(
        seed=seed, num_train_speakers=4, train_utts_per_speaker=3, num_eval_speakers=9,
        eval_utts_per_speaker=6, num_babble_speakers=6, babble_utts_per_speaker=2,
        babble_talkers=(2, 3), min_dur=1.5, max_dur=3.0, trials_per_set=200,
        mix_speakers_per_env=3, noises_per_kind=2, eval_noises_per_kind=2, music_per_kind=1,
        eval_music_per_kind=1, rooms_per_type=1, eval_rooms_per_type=1, rirs_per_room=2,
        noise_dur=(3.0, 5.0), jobs=jobs)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mini") / "corpus"
    make_mini_corpus(out, small_config())
    return out


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def sets_of(corpus: Path, name: str):
    d = corpus / "eval_sets" / name
    return read_utt2x(d / "utt2spk"), read_utt2x(d / "utt2env"), read_trials(d / "trials")


# ------------------------------------------------------------------ determinism and layout

def test_same_seed_same_bytes_any_jobs(corpus, tmp_path):
    again = tmp_path / "again"
    make_mini_corpus(again, small_config(jobs=1))
    a, b = tree_digest(corpus), tree_digest(again)
    assert len(a) > 100
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_other_seed_other_speakers():
    from seedkit.corpus.voices import draw_speakers

    a = draw_speakers(small_config(seed=7))
    b = draw_speakers(small_config(seed=8))
    key = lambda s: (s.language, s.variant, s.pitch, s.pitch_range, s.speed, s.word_gap)  # noqa
    assert [key(s) for s in a["eval"]] != [key(s) for s in b["eval"]]


def test_eval_speakers_do_not_depend_on_train_size():
    from seedkit.corpus.voices import draw_speakers

    small, big = small_config(), small_config()
    big.num_train_speakers = 40
    a, b = draw_speakers(small), draw_speakers(big)
    assert a["eval"] == b["eval"] and a["babble"] == b["babble"]
    assert a["train"] == b["train"][:4]


def test_heldout_variants_are_kept_from_training_speakers_only():
    from seedkit.corpus.voices import draw_speakers

    free, kept = small_config(), small_config()
    free.num_train_speakers = kept.num_train_speakers = 60
    free.heldout_variants = ()
    a = draw_speakers(free)
    reserved = tuple(sorted({s.variant for s in a["train"]}))[:10]
    kept.heldout_variants = reserved
    b = draw_speakers(kept)
    assert any(s.variant in reserved for s in a["train"])  # the draw would have used them
    assert not [s.spk for s in b["train"] if s.variant in reserved]
    assert len(b["train"]) == 60 and len({(s.language, s.variant, s.pitch, s.pitch_range,
                                           s.speed, s.word_gap) for s in b["train"]}) == 60
    # eval and babble speakers are the draw's first cut and do not change
    assert a["eval"] == b["eval"] and a["babble"] == b["babble"]
    # the training speakers are those of the free draw in order, skipping the reserved variants
    voice = lambda s: (s.language, s.variant, s.pitch, s.pitch_range, s.speed, s.word_gap)  # noqa
    kept_free = [voice(s) for s in a["train"] if s.variant not in reserved]
    assert [voice(s) for s in b["train"]][:len(kept_free)] == kept_free


@pytest.mark.parametrize("variants, words", [
    (("m1", "no-such"), "heldout_variants names ['no-such'], not in variants"),
    (None, "heldout_variants leaves no variant for the training speakers"),
])
def test_bad_heldout_variants_one_clear_error(variants, words):
    from seedkit.corpus.voices import draw_speakers

    cfg = small_config()
    cfg.heldout_variants = cfg.variants if variants is None else variants
    with pytest.raises(SeedkitError, match=words.replace("[", r"\[").replace("]", r"\]")):
        draw_speakers(cfg)


def test_too_few_voices_left_for_training_is_a_clear_error():
    from seedkit.corpus.voices import draw_speakers

    cfg = small_config()
    cfg.languages, cfg.variants = ("en-us",), ("m1", "f1")
    cfg.pitches, cfg.pitch_ranges, cfg.speeds, cfg.word_gaps = (30, 60, 90), (50,), (150,), (0, 2)
    cfg.num_eval_speakers, cfg.num_babble_speakers, cfg.num_train_speakers = 2, 4, 6
    cfg.heldout_variants, cfg.mix_speakers_per_env, cfg.babble_talkers = ("f1",), 2, (2, 2)
    with pytest.raises(SeedkitError, match="voice space holds only [0-9]+ more without the "
                                           "heldout_variants"):
        draw_speakers(cfg)


def test_layout_and_audio_format(corpus):
    cfg = small_config()
    for subset, n_spk, n_utt in (("train", 4, 3), ("eval", 9, 6), ("babble", 6, 2)):
        spk_dirs = sorted((corpus / "speech" / subset).iterdir())
        assert len(spk_dirs) == n_spk
        for d in spk_dirs:
            wavs = sorted(d.glob("*.wav"))
            assert len(wavs) == n_utt
            for w in wavs:
                assert w.stem.startswith(d.name + "-")
                info = sf.info(str(w))
                assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
                assert cfg.min_dur - 0.01 <= info.duration <= cfg.max_dur + 0.01
    for lib in (corpus, corpus / "eval_envs"):
        for cat in ("music", "noise", "speech"):
            files = list((lib / "musan" / cat).glob("*/*.wav"))
            assert files, f"{lib}/musan/{cat} is empty"
        for room in ("smallroom", "mediumroom", "largeroom"):
            assert list((lib / "RIRS_NOISES/simulated_rirs" / room).glob("Room*/Room*-*.wav"))
    summary = json.loads((corpus / "corpus.json").read_text())
    assert summary["seed"] == 7
    assert summary["config"]["num_eval_speakers"] == 9
    for name in SETS:
        assert summary["eval_sets"][name]["trials"] == 200


def test_rir_list_matches_files(corpus):
    for lib in (corpus, corpus / "eval_envs"):
        for room in ("smallroom", "mediumroom", "largeroom"):
            lines = (lib / "RIRS_NOISES/simulated_rirs" / room / "rir_list").read_text()
            lines = lines.splitlines()
            files = sorted((lib / "RIRS_NOISES/simulated_rirs" / room).glob("Room*/*.wav"))
            assert len(lines) == len(files)
            for line in lines:
                f = line.split()
                assert f[0] == "--rir-id" and f[2] == "--room-id"
                path = lib / f[4]
                assert path.is_file()
                assert f[1] == f"{room}-{path.parent.name}-{path.stem.split('-')[1]}"
                assert f[3] == f"{room}-{path.parent.name}"


# ------------------------------------------------------------------ speakers

def test_speaker_sets_disjoint(corpus):
    summary = json.loads((corpus / "corpus.json").read_text())
    tuples = [(s["language"], s["variant"], s["pitch"], s["pitch_range"], s["speed"],
               s["word_gap"]) for s in summary["speakers"]]
    assert len(set(tuples)) == len(tuples) == 4 + 9 + 6
    dirs = {sub: {d.name for d in (corpus / "speech" / sub).iterdir()}
            for sub in ("train", "eval", "babble")}
    assert not dirs["train"] & dirs["eval"]
    assert not dirs["train"] & dirs["babble"]
    assert not dirs["eval"] & dirs["babble"]
    for name in SETS:
        utt2spk, _, _ = sets_of(corpus, name)
        assert set(utt2spk.values()) <= dirs["eval"]


def test_too_many_speakers_is_a_clear_error(tmp_path):
    cfg = small_config()
    cfg.languages, cfg.variants, cfg.heldout_variants = ("en-us",), ("m1", "f1"), ()
    cfg.pitches, cfg.pitch_ranges, cfg.speeds, cfg.word_gaps = (30, 60), (50,), (150,), (0,)
    with pytest.raises(SeedkitError, match="voice space holds only 4 distinct voices"):
        make_mini_corpus(tmp_path / "c", cfg)
    assert not (tmp_path / "c").exists()


def test_unknown_voice_is_an_error(tmp_path):
    cfg = small_config()
    cfg.variants = cfg.variants + ("no-such-variant",)
    with pytest.raises(SeedkitError, match="no voice variant"):
        make_mini_corpus(tmp_path / "c", cfg)


# ------------------------------------------------------------------ eval sets

@pytest.mark.parametrize("name", SETS)
def test_trials_balanced_and_consistent(corpus, name):
    utt2spk, utt2env, trials = sets_of(corpus, name)
    assert len(trials) == 200
    assert sum(t.target for t in trials) == 100
    pairs = [(t.enroll, t.test) for t in trials]
    assert len(set(pairs)) == len(pairs)
    for t in trials:
        assert t.enroll != t.test
        assert t.target == (utt2spk[t.enroll] == utt2spk[t.test])
    assert set(utt2env) == set(utt2spk)
    wavs = {p.stem for p in (corpus / "eval_sets" / name / "wav").glob("*.wav")}
    assert wavs == set(utt2spk)
    for u, s in utt2spk.items():
        assert u.startswith(s + "-")


def test_eval_clean_is_clean(corpus):
    _, utt2env, _ = sets_of(corpus, "eval_clean")
    assert set(utt2env.values()) == {"clean"}


def held_out_ids(corpus: Path) -> tuple[set[str], set[str]]:
    """(noise/music recording ids, rir ids) of the held-out library, read from the files."""
    lib = corpus / "eval_envs"
    noises = {p.stem for p in (lib / "musan").glob("*/*/*.wav")}
    rirs = set()
    for lst in (lib / "RIRS_NOISES/simulated_rirs").glob("*/rir_list"):
        rirs |= {line.split()[1] for line in lst.read_text().splitlines()}
    return noises, rirs


def training_ids(corpus: Path) -> set[str]:
    ids = {p.stem for p in (corpus / "musan").glob("*/*/*.wav")}
    for lst in (corpus / "RIRS_NOISES/simulated_rirs").glob("*/rir_list"):
        ids |= {line.split()[1] for line in lst.read_text().splitlines()}
    return ids


def test_eval_mix_vcmix_property(corpus):
    utt2spk, utt2env, trials = sets_of(corpus, "eval_mix")
    assert "clean" not in utt2env.values()
    for t in trials:
        if t.target:
            assert utt2env[t.enroll] != utt2env[t.test], t
        else:
            assert utt2env[t.enroll] == utt2env[t.test], t
    # several speakers per environment, several environments per speaker
    env_spks: dict[str, set[str]] = {}
    for u, e in utt2env.items():
        env_spks.setdefault(e, set()).add(utt2spk[u])
    assert min(len(s) for s in env_spks.values()) >= 2
    per_spk = Counter(s for spks in env_spks.values() for s in spks)
    assert min(per_spk.values()) >= 2


def test_eval_envs_held_out(corpus):
    noises, rirs = held_out_ids(corpus)
    train = training_ids(corpus)
    assert noises and rirs and not (noises | rirs) & train
    for name in SETS[1:]:
        _, utt2env, _ = sets_of(corpus, name)
        for env in set(utt2env.values()) - {"clean"}:
            noise, rir = env.split("+")
            assert noise in noises
            assert rir == "none" if name.startswith("eval_snr") else rir in rirs


@pytest.mark.parametrize("snr", [0, 5, 10, 15])
def test_eval_snr_levels(corpus, snr):
    name = f"eval_snr{snr}"
    d = corpus / "eval_sets" / name
    utt2spk, utt2env, trials = sets_of(corpus, name)
    utt2clean = read_utt2x(d / "utt2clean")
    for t in trials:
        assert utt2env[t.enroll] == "clean"
        assert utt2env[t.test] != "clean"
    tests = sorted({t.test for t in trials})
    measured = []
    for u in tests:
        noisy, _ = sf.read(str(d / "wav" / f"{u}.wav"), dtype="float64")
        clean, _ = sf.read(str(d / "wav" / f"{utt2clean[u]}.wav"), dtype="float64")
        gain = float(noisy @ clean / (clean @ clean))  # the mixture was rescaled to a level
        noise = noisy - gain * clean
        measured.append(10 * np.log10(rms(gain * clean) ** 2 / rms(noise) ** 2))
    measured = np.array(measured)
    assert np.all(np.abs(measured - snr) < 1.0), measured
    assert abs(float(np.mean(measured)) - snr) < 0.3


def test_same_trials_across_snr(corpus):
    base = [(t.enroll, t.test.rsplit("-", 1)[0], t.target)
            for t in sets_of(corpus, "eval_snr0")[2]]
    for snr in (5, 10, 15):
        other = [(t.enroll, t.test.rsplit("-", 1)[0], t.target)
                 for t in sets_of(corpus, f"eval_snr{snr}")[2]]
        assert other == base


def test_scale_noise_exact():
    rng = np.random.default_rng(0)
    s, n = rng.standard_normal(8000), rng.standard_normal(8000) * 3
    for snr in (-5.0, 0.0, 12.5):
        scaled = scale_noise(s, n, snr)
        assert abs(10 * np.log10(rms(s) ** 2 / rms(scaled) ** 2) - snr) < 1e-9


# ------------------------------------------------------------------ lhotse reads the libraries

@pytest.mark.parametrize("lib", [".", "eval_envs"])
def test_lhotse_reads_environment_library(corpus, lib):
    from lhotse.recipes import prepare_musan, prepare_rir_noise

    root = corpus / lib
    musan = prepare_musan(root / "musan")
    for part in ("music", "noise", "speech"):
        n_files = len(list((root / "musan" / part).glob("*/*.wav")))
        assert len(musan[part]["recordings"]) == n_files > 0
    assert len(musan["music"]["supervisions"]) == len(musan["music"]["recordings"])
    for rec in musan["noise"]["recordings"]:
        assert rec.sampling_rate == 16000 and rec.num_channels == 1
    rirs = prepare_rir_noise(root / "RIRS_NOISES", parts=["sim_rir"])
    recs = rirs["sim_rir"]["recordings"]
    assert len(recs) == len(list((root / "RIRS_NOISES").glob("simulated_rirs/*/*/*.wav"))) > 0
    assert {r.id.split("-")[0] for r in recs} == {"small", "medium", "large"}


# ------------------------------------------------------------------ command line

def run_cli(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seedkit.bin.make_mini_corpus", *args],
                          capture_output=True, text=True, env=env)


def test_missing_espeak_one_clear_line(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty))
    proc = run_cli([str(tmp_path / "c")], env=env)
    assert proc.returncode == 1
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ERROR (")
    assert "apt-get install -y espeak-ng" in lines[0]
    assert not (tmp_path / "c").exists()


def test_cli_bad_options_and_existing_output(tmp_path, capsys):
    from seedkit.bin.make_mini_corpus import main
    from seedkit.errors import run_main

    def err_of(argv: list[str]) -> str:
        assert run_main(main, "seedkit-make-mini-corpus", argv) == 1
        return capsys.readouterr().err

    assert "num-eval-speakers" in err_of(["--num-eval-speakers", "1", str(tmp_path / "c")])
    assert "voice space" in err_of(["--num-train-speakers", "100000", str(tmp_path / "c")])
    assert "--pitches" in err_of(["--pitches", "a,b", str(tmp_path / "c")])
    assert not (tmp_path / "c").exists()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    assert "--force" in err_of([str(tmp_path / "d")])
    assert (tmp_path / "d" / "x").read_text() == "x"
