"""Render-on-extract training pairs: the planner (rounds, fresh crops), the renderer (the math of
the materialised wavs), spec files, spec-mode data dirs and their bad input."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from augment_inputs import inputs  # noqa: F401  (module fixture: clean, MUSAN and RIR data dirs)

from seedkit.augment import PairPlanner, augment_data_dir
from seedkit.bin import extract as extract_bin
from seedkit.crops import wrap_crop
from seedkit.data.datadir import load_data_dir, validate_data_dir
from seedkit.embio import read_embeddings
from seedkit.errors import SeedkitError, run_main
from seedkit.render import (
    Renderer,
    drop_caches,
    load_spec,
    read_entry,
    read_spec,
    reverberate,
    snr_mix,
)
from seedkit.render_spec import RenderEntry

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


# ----------------------------------------------------------------------------- spec-mode dirs

REPO = Path(__file__).resolve().parents[2]
GE2E_CONF = REPO / "egs/mini/seed/conf/ge2e.yaml"
VENV_BIN = REPO / ".venv" / "bin"


def _augment(inputs, out: Path, **kw):  # noqa: F811
    kw = {"rounds": 2, "seed": 7, **kw}
    return augment_data_dir(inputs / "clean", out / "crops", out / "aug", musan=inputs / "musan",
                            rirs=inputs / "rirs", **kw)


@pytest.fixture(scope="module")
def dirs(inputs, tmp_path_factory):  # noqa: F811
    """The same plan as a spec-mode dir and as materialised float32 wavs."""
    out = tmp_path_factory.mktemp("render_out")
    _augment(inputs, out / "spec")
    _augment(inputs, out / "mat", materialise=True, subtype="FLOAT")
    return out


def _extract(data: Path, out: Path, capsys, *extra) -> tuple[int, list[str]]:
    status = run_main(extract_bin.main, "seedkit-extract", [
        "--config", str(GE2E_CONF), "--device", "cpu", "--no-progress", *map(str, extra),
        str(data), f"ark,scp:{out}.ark,{out}.scp"])
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    return status, errors


def test_spec_mode_writes_tables_not_audio(inputs, dirs):  # noqa: F811
    spec, mat = dirs / "spec", dirs / "mat"
    assert not list(spec.rglob("*.wav")) and len(list(mat.rglob("*.wav"))) == 6 * 2 * 4
    aug = validate_data_dir(spec / "aug")
    crops = validate_data_dir(spec / "crops")
    utts = load_data_dir(inputs / "clean").utt2spk
    assert list(crops.utt2spk) == sorted(f"{u}-clean{k}" for u in utts for k in (1, 2))
    assert len(aug) == 6 * 2 * 4 and set(crops.utt2spk) <= set(aug.utt2spk)
    u2c = aug.extra["utt2clean"]
    for key, clean in u2c.items():
        assert aug.utt2spk[key] == crops.utt2spk[clean]
        k = key[-1]
        assert clean == key if "-clean" in key else clean.endswith(f"-clean{k}")
    for key, value in aug.wav_scp.items():
        assert value == f"seedkit-render-wav {spec / 'aug' / 'render.spec'} {key} |"
    # the spec is the same in both modes; the materialised dir's wavs are its rendering
    assert (spec / "aug" / "render.spec").read_text() == (mat / "aug" / "render.spec").read_text()
    assert load_data_dir(mat / "aug").extra == aug.extra
    assert not (spec / "aug" / "augment.info").exists()
    size = sum(p.stat().st_size for p in spec.rglob("*") if p.is_file())
    assert size / len(aug) < 1000, size / len(aug)


def test_render_pipe_is_real_and_read_in_process(dirs):
    spec = load_data_dir(dirs / "spec" / "aug")
    mat = load_data_dir(dirs / "mat" / "aug")
    key = next(k for k in spec.wav_scp if "-music" in k)
    ours, rate = read_entry(spec.wav_scp[key], 16000)
    want, _ = sf.read(mat.wav_scp[key], dtype="float32")
    assert rate == 16000 and np.array_equal(ours, want)
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-c", spec.wav_scp[key][:-1]], capture_output=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    piped, _ = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    assert np.array_equal(piped, want)


def test_embeddings_equal_materialised_float(dirs, tmp_path, capsys):
    a = _extract(dirs / "spec" / "aug", tmp_path / "spec", capsys)
    b = _extract(dirs / "mat" / "aug", tmp_path / "mat", capsys)
    assert a == b == (0, [])
    ea = dict(read_embeddings(f"scp:{tmp_path}/spec.scp"))
    eb = dict(read_embeddings(f"scp:{tmp_path}/mat.scp"))
    assert list(ea) == list(eb) and len(ea) == 48
    diff = max(float(np.max(np.abs(ea[k] - eb[k]))) for k in ea)
    assert diff <= 1e-5, diff


def test_shell_split_extraction_of_a_spec_dir(inputs, dirs, tmp_path):  # noqa: F811
    env = dict(os.environ, PATH=f"{VENV_BIN}:{REPO / 'utils'}:{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", str(REPO / "utils" / "augment_data_dir.sh"), "--nj", "2", "--rounds", "2",
         "--seed", "7", "--musan", str(inputs / "musan"), "--rirs", str(inputs / "rirs"),
         str(inputs / "clean"), str(tmp_path / "crops"), str(tmp_path / "aug")],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "aug" / "render.spec").read_text() == \
        (dirs / "spec" / "aug" / "render.spec").read_text()
    assert not list(tmp_path.rglob("*.wav"))
    proc = subprocess.run(
        ["bash", str(REPO / "utils" / "extract_embeddings.sh"), "--nj", "2", "--config",
         str(GE2E_CONF), "--device", "cpu", str(tmp_path / "crops"), str(tmp_path / "xv")],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    emb = dict(read_embeddings(f"scp:{tmp_path}/xv/xvector.scp"))
    assert list(emb) == list(load_data_dir(tmp_path / "crops").utt2spk)
    assert (tmp_path / "crops" / "split2utt" / "2" / "wav.scp").is_file()


def _corrupt(inputs, tmp_path, edit):  # noqa: F811
    _augment(inputs, tmp_path)
    spec = tmp_path / "aug" / "render.spec"
    lines = spec.read_text().splitlines(keepends=True)
    result = edit(spec, lines)
    return spec, result


def _edit_line(pick, change):
    def edit(spec, lines):
        n = next(i for i, ln in enumerate(lines) if pick(ln.split()))
        f = lines[n].split()
        change(f)
        lines[n] = " ".join(f) + "\n"
        spec.write_text("".join(lines))
        return n + 1
    return edit


def _drop_line(kind):
    def edit(spec, lines):
        n = next(i for i, ln in enumerate(lines) if ln.split()[4] == kind)
        spec.write_text("".join(lines[:n] + lines[n + 1:]))
        return 0
    return edit


def _set(i, value):
    def change(f):
        f[i] = value
    return change


def _whole(content: bytes, line: int):
    def edit(spec, lines):
        spec.write_bytes(content if content != b"TRUNC" else "".join(lines).encode()[:-30])
        return line if content != b"TRUNC" else len(lines)
    return edit


BAD_SPECS = {
    "missing-recording": (_edit_line(lambda f: f[4] == "music", _set(5, "no-such-rec")),
                          "not in the MUSAN data dir"),
    "missing-rir": (_edit_line(lambda f: f[4] == "reverb", _set(5, "no-such-rir")),
                    "not in the RIR data dir"),
    "snr-not-numeric": (_edit_line(lambda f: f[4] == "noise", _set(7, "loud")),
                        "SNR must be a finite number"),
    "crop-beyond-utterance": (_edit_line(lambda f: f[4] == "clean", _set(2, "4000000")),
                              "beyond utterance"),
    "source-beyond-recording": (_edit_line(lambda f: f[4] == "music", _set(6, "90000000")),
                                "beyond recording"),
    "utt2clean-key-without-line": (_drop_line("noise"), "no line for key"),
    "empty": (_whole(b"", 0), "empty"),
    "binary": (_whole(bytes(range(256)) * 4, 0), "binary"),
    "truncated": (_whole(b"TRUNC", 0), "expected 8 fields"),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_spec_is_one_error_before_any_output(inputs, tmp_path, capsys, case):  # noqa: F811
    edit, words = BAD_SPECS[case]
    spec, line = _corrupt(inputs, tmp_path, edit)
    status, errors = _extract(tmp_path / "aug", tmp_path / "xv", capsys)
    assert status == 1 and len(errors) == 1, errors
    assert f"{spec}:{line}:" in errors[0] and words in errors[0], errors[0]
    assert not (tmp_path / "xv.ark").exists() and not (tmp_path / "xv.scp").exists()


def test_render_wav_bad_key_is_one_error(dirs, capsys):
    from seedkit.bin import render_wav

    spec = dirs / "spec" / "aug" / "render.spec"
    assert run_main(render_wav.main, "seedkit-render-wav", [str(spec), "nobody-music1"]) == 1
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1 and f"{spec}:0:" in errors[0] and "no line for key" in errors[0]


def test_a_job_parses_only_its_share_of_the_spec(inputs, tmp_path):  # noqa: F811
    _augment(inputs, tmp_path)
    spec = tmp_path / "aug" / "render.spec"
    lines = spec.read_text().splitlines(keepends=True)
    first, other = lines[0].split()[0], lines[1].split()[0]
    lines[1] = lines[1].replace(" reverb ", " echo ").replace(" music ", " echo ") \
        .replace(" noise ", " echo ").replace(" clean ", " echo ")
    spec.write_text("".join(lines))
    part = read_spec(spec, {first})
    assert list(part.entries) == [first] and not part.complete
    with pytest.raises(SeedkitError, match="kind must be one of") as err:
        read_spec(spec, {first, other})
    assert err.value.line == 2
    with pytest.raises(SeedkitError, match="kind must be one of"):
        read_spec(spec)
    drop_caches()
    assert load_spec(spec, {first}) is load_spec(spec, {first})
    third = lines[2].split()[0]
    grown = load_spec(spec, {third})
    assert set(grown.entries) == {first, third}


def test_shell_extraction_of_a_bad_spec_is_one_error(inputs, tmp_path):  # noqa: F811
    spec, line = _corrupt(inputs, tmp_path, BAD_SPECS["missing-rir"][0])
    env = dict(os.environ, PATH=f"{VENV_BIN}:{REPO / 'utils'}:{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", str(REPO / "utils" / "extract_embeddings.sh"), "--nj", "2", "--config",
         str(GE2E_CONF), "--device", "cpu", str(tmp_path / "aug"), str(tmp_path / "xv")],
        env=env, capture_output=True, text=True, timeout=600)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert f"{spec}:{line}:" in errors[0] and "not in the RIR data dir" in errors[0]
    assert not list((tmp_path / "xv").glob("xvector*.ark"))
    assert not (tmp_path / "xv" / "xvector.scp").exists()
