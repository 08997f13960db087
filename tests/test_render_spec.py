"""Render-on-extract training pairs: the planner (rounds, fresh crops), the renderer (the math of
the materialised wavs), spec files, spec-mode data dirs and their bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from test_augment import inputs  # noqa: F401  (module fixture: clean, MUSAN and RIR data dirs)

from seedkit.augment import (
    PairPlanner,
    RenderEntry,
    Renderer,
    reverberate,
    snr_mix,
    wrap_crop,
)
from seedkit.data.datadir import load_data_dir
from seedkit.errors import SeedkitError

L = 32240


@pytest.fixture(scope="module")
def planner(inputs):  # noqa: F811
    return PairPlanner(inputs / "clean", inputs / "musan", inputs / "rirs", seed=7)


def test_entry_line_round_trips():
    for e in (RenderEntry("u-clean1", "u", 12, L, "clean"),
              RenderEntry("u-music3", "u", 0, L, "music", "music-a", 4711, 5.123456789012345),
              RenderEntry("u-noise3", "u", 0, L, "noise", "noise-b", 0, 0.1 + 0.2),
              RenderEntry("u-reverb2", "u", 9, L, "reverb", "rir-1")):
        assert RenderEntry.parse(e.to_line(), "spec", 1) == e


def test_rounds_do_not_depend_on_k(inputs, planner):  # noqa: F811
    utt = planner.utterances[0]
    assert planner.utterances == sorted(load_data_dir(inputs / "clean").utt2spk)
    k16 = [planner.plan(utt, k) for k in range(1, 17)]
    again = PairPlanner(inputs / "clean", inputs / "musan", inputs / "rirs", seed=7)
    assert [again.plan(utt, k) for k in (1, 2)] == k16[:2]
    keys = [[e.key for e in r] for r in k16]
    assert keys[2] == [f"{utt}-{kind}3" for kind in ("clean", "music", "noise", "reverb")]
    # every entry of a round shares the round's crop; fresh crops differ between rounds
    for r in k16:
        assert len({(e.clean, e.start, e.length) for e in r}) == 1
    long_utt = next(u for u in planner.utterances
                    if planner.inputs.src.length(u) > L + 1000)
    starts = {planner.plan(long_utt, k)[0].start for k in range(1, 17)}
    assert len(starts) > 8
    other = PairPlanner(inputs / "clean", inputs / "musan", inputs / "rirs", seed=8)
    assert other.plan(utt, 1) != k16[0]


def test_one_crop_mode_shares_round_ones_crop(inputs, planner):  # noqa: F811
    one = PairPlanner(inputs / "clean", inputs / "musan", inputs / "rirs", seed=7,
                      fresh_crops=False)
    for utt in one.utterances:
        r1 = planner.plan(utt, 1)
        for k in (1, 2, 5):
            r = one.plan(utt, k)
            assert r[0].key == utt and r[0].start == r1[0].start
            assert [e.key for e in r[1:]] == [f"{utt}-{x}{k}" for x in ("music", "noise",
                                                                       "reverb")]
            # the corruption draws are round k's own, as with fresh crops
            fresh = planner.plan(utt, k)
            assert [(e.source, e.source_start, e.snr) for e in r[1:]] == \
                [(e.source, e.source_start, e.snr) for e in fresh[1:]]


def test_renderer_is_the_materialised_math(inputs, planner):  # noqa: F811
    renderer = Renderer(inputs / "clean", inputs / "musan", inputs / "rirs")
    clean = load_data_dir(inputs / "clean")
    musan = load_data_dir(inputs / "musan")
    rirs = load_data_dir(inputs / "rirs")
    for utt in planner.utterances:
        x, _ = sf.read(clean.wav_scp[utt], dtype="float64")
        for k in (1, 2):
            entries = planner.plan(utt, k)
            c = entries[0]
            assert c.start == 0 if len(x) <= L else 0 <= c.start <= len(x) - L
            want_clean = wrap_crop(x, L, 0) if len(x) <= L else x[c.start:c.start + L]
            got = renderer.render(c)
            assert got.dtype == np.float32 and got.shape == (L,)
            assert np.array_equal(got, want_clean.astype(np.float32))
            for e in entries[1:]:
                if e.kind == "reverb":
                    h, _ = sf.read(rirs.wav_scp[e.source], dtype="float64")
                    want = reverberate(want_clean, h)
                else:
                    n, _ = sf.read(musan.wav_scp[e.source], dtype="float64")
                    assert e.source_start == 0 or e.source_start + L <= len(n)
                    want = snr_mix(want_clean, wrap_crop(n, L, e.source_start), e.snr)
                assert np.array_equal(renderer.render(e), want.astype(np.float32)), e.key


def test_renderer_check_names_the_problem(inputs, planner):  # noqa: F811
    renderer = planner.renderer()
    utt = planner.utterances[0]
    music = planner.plan(utt, 1)[1]
    cases = [
        (RenderEntry("k", "nobody", 0, L, "clean"), "not in the clean data dir"),
        (RenderEntry("k", utt, 10 ** 7, L, "clean"), "beyond utterance"),
        (RenderEntry("k", utt, 0, L, "music", "no-such-rec", 0, 5.0), "not in the MUSAN"),
        (RenderEntry("k", utt, 0, L, "music", music.source, 10 ** 8, 5.0), "beyond recording"),
        (RenderEntry("k", utt, 0, L, "reverb", "no-such-rir"), "not in the RIR data dir"),
    ]
    for entry, what in cases:
        with pytest.raises(SeedkitError, match=what) as err:
            renderer.check(entry, "some.spec", 3)
        assert err.value.path == "some.spec" and err.value.line == 3
    renderer.check(music, "some.spec", 1)


@pytest.mark.parametrize("line,what", [
    ("k u 0 32240 music m 0 loud", "SNR must be a finite number"),
    ("k u 0 32240 music m 0 nan", "SNR must be a finite number"),
    ("k u 0 32240 clean - 0 5.0", "has no SNR"),
    ("k u x 32240 clean - 0 -", "crop start must be an integer"),
    ("k u 0 0 clean - 0 -", "crop length must be an integer >= 1"),
    ("k u 0 32240 echo r 0 -", "kind must be one of"),
    ("k u 0 32240 reverb - 0 -", "needs a source key"),
    ("k u 0 32240 clean", "expected 8 fields"),
])
def test_bad_entry_lines(line, what):
    with pytest.raises(SeedkitError, match=what) as err:
        RenderEntry.parse(line, "x/render.spec", 5)
    assert err.value.path == "x/render.spec" and err.value.line == 5
