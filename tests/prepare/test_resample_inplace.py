"""Reading corpora where they lie (stage 2 without --materialise-16k): the resampler against
ffmpeg, span reads against whole reads, in-place data dirs against the 16 kHz copies (audio,
crops, embeddings, disk) on the real-layout fixtures, and the bad-input errors."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seedkit.audio import read_audio
from seedkit.bin.resample_data_dir import main as resample_main
from seedkit.corpus import real_layout as rl
from seedkit.data.datadir import load_data_dir
from seedkit.embio import read_embeddings
from seedkit.errors import run_main
from seedkit.extract import extract_data_dir
from seedkit.inplace import InPlaceFile, in_place_file, parse_resample_pipe, resample_pipe
from seedkit.prepare import corpora
from seedkit.render import AudioTable
from seedkit.resample import resample_data_dir

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "egs" / "voxceleb" / "seed" / "conf" / "test_tiny_resnet.yaml"
#: measured by benchmarks/inplace_check.py --seeds 0 3 7 (real-layout LibriTTS-R, 24 -> 16 kHz,
#: 78 files): SNR of the resampler against ffmpeg's, whole file min 42.2 dB (median 56-59; the
#: first and last samples differ most: the two treat the file ends differently), 200 samples off
#: each end min 63.7 dB (median 64-65)
SNR_WHOLE_DB = 38.0
SNR_INTERIOR_DB = 60.0
#: measured there too: cosine of in-place vs copy embeddings (tiny random ResNet, full
#: utterances, 36 utterances) min 0.999903
COSINE_MIN = 0.999


def _snr(ref: np.ndarray, x: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - x) ** 2)))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The real-layout fixtures and their Kaldi data dirs (stage 1)."""
    root = tmp_path_factory.mktemp("inplace")
    rl.write_all(root / "corpora", seed=7)
    local = root / "local"
    corpora.prepare_voxceleb1(root / "corpora" / "voxceleb1", local)
    corpora.prepare_librittsr(root / "corpora" / "LibriTTS_R", local)
    corpora.prepare_librilight(root / "corpora" / "librilight", local)
    corpora.prepare_musan(root / "corpora" / "musan", local)
    return root


SETS = {"voxceleb1_test": 16000, "librittsr_train_clean_100": 24000, "librilight_small": 16000,
        "musan": 16000}


@pytest.fixture(scope="module")
def both_modes(prepared):
    """Stage 2 both ways: ``inplace/`` (no copies) and ``copies/`` (16 kHz wav)."""
    out = {}
    for mode in ("inplace", "copies"):
        for name, rate in SETS.items():
            stats = resample_data_dir(prepared / "local" / name, prepared / mode / name,
                                      prepared / mode / "audio" / name, in_place=mode == "inplace",
                                      source_rate=rate)
            out[(mode, name)] = stats
    return prepared, out


def _audio_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def test_resampler_matches_ffmpeg(prepared):
    dd = load_data_dir(prepared / "local" / "librittsr_train_clean_100")
    worst_whole = worst_inner = np.inf
    for path in list(dd.wav_scp.values())[:4]:
        assert sf.info(path).samplerate == 24000
        ours = InPlaceFile(path, 16000).read()
        ff = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", path, "-ac", "1",
                             "-ar", "16000", "-acodec", "pcm_f32le", "-f", "wav", "pipe:1"],
                            check=True, capture_output=True).stdout
        ref, rate = sf.read(io.BytesIO(ff), dtype="float32")
        assert rate == 16000 and len(ref) == len(ours)  # ceil(n * 2 / 3) samples, as ffmpeg
        worst_whole = min(worst_whole, _snr(ref, ours))
        worst_inner = min(worst_inner, _snr(ref[200:-200], ours[200:-200]))
    assert worst_whole >= SNR_WHOLE_DB and worst_inner >= SNR_INTERIOR_DB, (worst_whole,
                                                                          worst_inner)


@pytest.mark.parametrize("rate_in", [24000, 44100, 16000])
def test_span_reads_equal_the_whole_read(tmp_path, rate_in):
    rng = np.random.default_rng(rate_in)
    x = (0.3 * rng.standard_normal(int(rate_in * 3.3))).astype(np.float32)
    path = tmp_path / ("x.flac" if rate_in == 16000 else "x.wav")
    sf.write(path, x, rate_in)
    f = InPlaceFile(str(path), 16000)
    whole = f.read()
    n = f.length()
    assert len(whole) == n == -(-len(x) * 16000 // rate_in)
    for _ in range(100):
        start = int(rng.integers(0, n))
        frames = int(rng.integers(0, n - start + 1))
        span = f.read(start, frames)
        assert len(span) == frames
        # float32 convolution order only: the samples the whole file gives there
        assert np.abs(span - whole[start:start + frames]).max(initial=0) <= 1e-6
    if rate_in == 16000:  # no resampling: the file's own samples
        assert np.array_equal(whole, sf.read(path, dtype="float32")[0])


def test_pipe_runs_as_a_command_with_the_samples_read_in_process(tmp_path):
    path = tmp_path / "a b.wav"  # a space: the pipe quotes it
    sf.write(path, 0.1 * np.sin(np.arange(24000) / 7.0), 24000, subtype="PCM_16")
    entry = resample_pipe(str(path), 16000)
    assert parse_resample_pipe(entry) == (16000, str(path))
    env_path = f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin"
    out = subprocess.run(["bash", "-c", entry[:-1]], check=True, capture_output=True,
                         env={"PATH": env_path}).stdout
    ran, rate = sf.read(io.BytesIO(out), dtype="float32")
    inproc, rate2 = read_audio(entry, 16000)
    assert rate == rate2 == 16000 and np.array_equal(ran, inproc)


def test_in_place_writes_no_audio_and_keeps_16k_paths(both_modes):
    root, stats = both_modes
    for name in SETS:
        n = len(load_data_dir(root / "local" / name).wav_scp)
        assert stats[("inplace", name)]["in_place"] == n
        assert stats[("inplace", name)]["converted"] == 0
        audio = root / "inplace" / "audio" / name
        assert not [p for p in audio.rglob("*") if p.is_file()] if audio.exists() else True
        assert _audio_bytes(root / "copies" / "audio" / name) > 0
    vox = load_data_dir(root / "inplace" / "voxceleb1_test")
    assert all(Path(v).is_file() and v.endswith(".wav") for v in vox.wav_scp.values())
    tts = load_data_dir(root / "inplace" / "librittsr_train_clean_100")
    assert all(in_place_file(v).rate == 16000 for v in tts.wav_scp.values())
    light = load_data_dir(root / "inplace" / "librilight_small")
    assert all(in_place_file(v).path.endswith(".flac") for v in light.wav_scp.values())


def test_both_modes_give_the_same_durations_and_audio(both_modes):
    root, _ = both_modes
    for name in SETS:
        a = load_data_dir(root / "inplace" / name)
        b = load_data_dir(root / "copies" / name)
        assert list(a.utt2spk) == list(b.utt2spk)
        assert a.utt2dur == b.utt2dur  # the same sample counts
        for key in a.wav_scp:
            x, _ = read_audio(a.wav_scp[key], 16000)
            y, _ = read_audio(b.wav_scp[key], 16000)
            if SETS[name] == 16000:
                assert np.array_equal(x, y)  # the same 16-bit samples
            else:  # ffmpeg's resampler + 16-bit copy vs ours in float32
                assert _snr(y, x) >= SNR_WHOLE_DB
                assert _snr(y[200:-200], x[200:-200]) >= SNR_INTERIOR_DB


def test_crops_read_by_span_match_the_whole_file(both_modes):
    root, _ = both_modes
    name = "librittsr_train_clean_100"
    table = AudioTable(load_data_dir(root / "inplace" / name), 16000, "clean")
    for key in list(table.sources)[:4]:
        whole, _ = read_audio(table.sources[key].entry, 16000)
        n = table.length(key)
        assert n == len(whole)
        for start in (0, n // 3, max(0, n - 32240)):
            span = table.read(key, start, 32240)
            assert np.abs(span - whole[start:start + 32240]).max() <= 1e-6


def test_both_modes_embed_alike(both_modes):
    root, _ = both_modes
    for name in ("librittsr_train_clean_100", "librilight_small"):
        emb = {}
        for mode in ("inplace", "copies"):
            ark = root / mode / f"{name}.ark"
            extract_data_dir(root / mode / name, f"ark,scp:{ark},{ark.with_suffix('.scp')}",
                             TINY, allow_random_weights=True, device="cpu", crop="full",
                             progress=False)
            emb[mode] = dict(read_embeddings(f"scp:{ark.with_suffix('.scp')}"))
        for key, a in emb["inplace"].items():
            b = emb["copies"][key]
            cos = float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
            if name == "librilight_small":
                assert np.array_equal(a, b)  # the same samples
            else:
                assert cos >= COSINE_MIN, (key, cos)


# ------------------------------------------------------------------------------------ bad input

def _errors(argv, capsys):
    status = run_main(resample_main, "seedkit-resample-data-dir", argv)
    return status, [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]


def _one_file_dir(tmp_path: Path, entry: str) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "wav.scp").write_text(f"s1-a {entry}\n")
    (d / "utt2spk").write_text("s1-a s1\n")
    (d / "spk2utt").write_text("s1 s1-a\n")
    return d


@pytest.mark.parametrize("in_place", [True, False])
def test_a_file_at_a_rate_the_corpus_does_not_have(tmp_path, capsys, in_place):
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(2205) + 0.1, 22050, subtype="PCM_16")
    src = _one_file_dir(tmp_path, str(wav))
    argv = ["--source-rate", "24000", *(["--in-place"] if in_place else []), str(src),
            str(tmp_path / "dest"), str(tmp_path / "wav")]
    status, errors = _errors(argv, capsys)
    assert status == 1 and len(errors) == 1, errors
    assert f"{src / 'wav.scp'}:1:" in errors[0] and str(wav) in errors[0]
    assert "22050 Hz" in errors[0] and "24000 Hz" in errors[0]
    assert not (tmp_path / "dest").exists() and not (tmp_path / "wav").exists()


def test_an_unreadable_flac(tmp_path, capsys):
    flac = tmp_path / "a.flac"
    flac.write_bytes(b"fLaC not really")
    src = _one_file_dir(tmp_path, resample_pipe(str(flac), 16000))
    status, errors = _errors(["--in-place", str(src), str(tmp_path / "dest"),
                              str(tmp_path / "wav")], capsys)
    assert status == 1 and len(errors) == 1
    assert f"{src / 'wav.scp'}:1:" in errors[0] and f"cannot read {flac} as audio" in errors[0]
    assert not (tmp_path / "dest").exists()


def test_a_truncated_flac_and_a_crop_beyond_the_end(tmp_path, capsys):
    flac = tmp_path / "a.flac"
    sf.write(flac, 0.3 * np.random.default_rng(0).standard_normal(64000), 16000)
    full = flac.read_bytes()
    flac.write_bytes(full[:len(full) // 2])  # the header still says 64000 samples
    src = _one_file_dir(tmp_path, resample_pipe(str(flac), 16000))
    status, errors = _errors(["--in-place", str(src), str(tmp_path / "dest"),
                              str(tmp_path / "wav")], capsys)
    assert status == 1 and len(errors) == 1
    assert f"{src / 'wav.scp'}:1:" in errors[0] and str(flac) in errors[0]
    assert "truncated" in errors[0] or "corrupt" in errors[0]
    flac.write_bytes(full)
    f = InPlaceFile(str(flac), 16000, src / "wav.scp", 1, "s1-a")
    with pytest.raises(Exception, match=r"crop \[63990, 64010\) lies beyond the end of"):
        f.read(63990, 20)


@pytest.mark.parametrize("in_place", ["true", "false"])
def test_shell_helper_checks_rates_before_any_work(tmp_path, in_place):
    """utils/resample_data_dir.sh --source-rate: a file at another rate is one ERROR line naming
    it and its wav.scp line, and nothing is converted or written (either mode)."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for i, rate in enumerate((24000, 24000, 22050)):
        sf.write(audio / f"{i}.wav", 0.1 * np.sin(np.arange(rate) / 5.0), rate, subtype="PCM_16")
    src = tmp_path / "src"
    src.mkdir()
    (src / "wav.scp").write_text("".join(f"s1-{i} {audio / f'{i}.wav'}\n" for i in range(3)))
    (src / "utt2spk").write_text("".join(f"s1-{i} s1\n" for i in range(3)))
    (src / "spk2utt").write_text("s1 s1-0 s1-1 s1-2\n")
    env = dict(PATH=f"{REPO / '.venv' / 'bin'}:{REPO / 'utils'}:/usr/bin:/bin", HOME=str(tmp_path))
    cmd = ["bash", str(REPO / "utils" / "resample_data_dir.sh"), "--nj", "2", "--in-place",
           in_place, "--source-rate", "24000", str(src), str(tmp_path / "dest"),
           str(tmp_path / "wav")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert f"{src / 'wav.scp'}:3:" in errors[0] and f"{audio / '2.wav'}" in errors[0]
    assert "22050 Hz" in errors[0]
    assert not (tmp_path / "dest").exists()
    assert not [p for p in (tmp_path / "wav").rglob("*.wav")]
    (src / "wav.scp").write_text("".join(f"s1-{i} {audio / f'{i}.wav'}\n" for i in range(2)))
    (src / "utt2spk").write_text("".join(f"s1-{i} s1\n" for i in range(2)))
    (src / "spk2utt").write_text("s1 s1-0 s1-1\n")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    dd = load_data_dir(tmp_path / "dest")
    written = [p for p in (tmp_path / "wav").rglob("*.wav")]
    if in_place == "true":
        assert written == [] and all(parse_resample_pipe(v) for v in dd.wav_scp.values())
    else:
        assert len(written) == 2 and all(sf.info(v).samplerate == 16000
                                         for v in dd.wav_scp.values())
