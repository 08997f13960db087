"""Corpus preparation: lhotse manifests -> Kaldi data dirs, trial lists, VC-Mix, the mini corpus,
downloads (offline: file:// URLs and a replaced fetcher), and the errors a user can cause."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from archive_server import archive_server

from seedkit.audio import read_audio
from seedkit.corpus import real_layout as rl
from seedkit.data.combine import combine_data_dirs
from seedkit.data.datadir import load_data_dir, validate_data_dir
from seedkit.data.trials import read_trials
from seedkit.errors import SeedkitError, run_main
from seedkit.prepare import corpora, download
from seedkit.prepare.mini import prepare_mini_corpus


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Every real-layout corpus prepared once into one data root."""
    root = tmp_path_factory.mktemp("corpora")
    trees = rl.write_all(root, seed=11)
    data = root / "data"
    written = []
    written += corpora.prepare_voxceleb1(root / "voxceleb1", data)
    written += corpora.prepare_librittsr(root / "LibriTTS_R", data)
    written += corpora.prepare_librilight(root / "librilight", data)
    written += corpora.prepare_musan(root / "musan", data)
    written += corpora.prepare_rirs(root / "RIRS_NOISES", data,
                                    parts=("sim_rir", "real_rir", "point_noise"))
    written += corpora.prepare_voxconverse_sv(root / "voxconverse_test_SV", data)
    counts = corpora.make_vcmix(data / "voxceleb1_test", data / "voxconverse_sv", data / "vcmix")
    written.append("vcmix")
    return root, trees, data, written, counts


def _errors(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]


def test_every_data_dir_is_valid_with_spk2utt(prepared):
    _, _, data, written, _ = prepared
    assert set(written) >= {"voxceleb1_test", "voxceleb1_dev", "librittsr_train_clean_100",
                            "librittsr_train_clean_360", "librilight_small", "musan",
                            "musan_music", "musan_noise", "musan_speech", "rirs", "rirs_real",
                            "noise_pointsource", "voxconverse_sv", "vcmix"}
    for name in written:
        dd = validate_data_dir(data / name)  # also checks speaker order of utterance ids
        assert (data / name / "spk2utt").is_file() and dd.utt2dur is not None
    assert (data / "manifests" / "librittsr_recordings_train-clean-100.jsonl.gz").is_file()


def test_voxceleb1_trials_match_the_data_dir(prepared):
    root, trees, data, _, _ = prepared
    dd = load_data_dir(data / "voxceleb1_test")
    trials = read_trials(data / "voxceleb1_test" / "trials")
    src = (root / "voxceleb1" / "veri_test2.txt").read_text().split("\n")[:-1]
    assert len(trials) == len(src) > 0
    first = src[0].split()
    assert trials[0].enroll == first[1][:-4].replace("/", "-")
    assert trials[0].target == (first[0] == "1")
    assert {k for t in trials for k in (t.enroll, t.test)} <= set(dd.utt2spk)
    assert all(dd.utt2spk[k] == k.split("-")[0] for k in dd.utt2spk)
    assert set(load_data_dir(data / "voxceleb1_dev").utt2spk).isdisjoint(dd.utt2spk)


def test_vcmix_is_voxconverse_nontargets_plus_vox1_targets(prepared):
    _, trees, data, _, counts = prepared
    vc = read_trials(data / "voxconverse_sv" / "trials")
    vox = read_trials(data / "voxceleb1_test" / "trials")
    mix = read_trials(data / "vcmix" / "trials")
    assert trees["voxconverse_sv"].info["n_target"] > 0  # targets exist and must be left out
    assert mix == [t for t in vc if not t.target] + [t for t in vox if t.target]
    assert counts == {"nontarget": sum(not t.target for t in vc),
                      "target": sum(t.target for t in vox),
                      "utterances": len(load_data_dir(data / "vcmix"))}
    dd = load_data_dir(data / "vcmix")
    used = {k for t in mix for k in (t.enroll, t.test)}
    assert set(dd.utt2spk) == used
    vc_keys = set(load_data_dir(data / "voxconverse_sv").utt2spk)
    assert all(t.enroll in vc_keys and t.test in vc_keys for t in mix if not t.target)
    assert all(t.enroll.startswith("id") for t in mix if t.target)


def test_keys_and_wav_scp_forms(prepared):
    _, _, data, _, _ = prepared
    tts = load_data_dir(data / "librittsr_train_clean_100")
    assert "190" in tts.spk2utt and "19" in tts.spk2utt  # '_' -> '-' keeps Kaldi sort order
    assert all("_" not in k and k.startswith(tts.utt2spk[k] + "-") for k in tts.utt2spk)
    assert all(v.endswith(".wav") for v in tts.wav_scp.values())  # 24 kHz wav: plain paths
    ll = load_data_dir(data / "librilight_small")
    k = next(iter(ll.wav_scp))
    assert k.startswith(ll.utt2spk[k] + "-") and ll.wav_scp[k].endswith("pipe:1 |")
    x, rate = read_audio(ll.wav_scp[k], 16000)  # the flac pipe decodes with this ffmpeg
    assert abs(len(x) / rate - ll.utt2dur[k]) < 1e-3
    real = load_data_dir(data / "rirs_real")
    (entry,) = real.wav_scp.values()
    assert "channelmap=map=0" in entry and "-map_channel" not in entry
    y, _ = read_audio(entry, 16000)  # 2-channel file -> channel 0, mono
    ref, _ = sf.read(next(iter(Path(data.parent / "RIRS_NOISES").rglob("RVB*rir*.wav"))))
    assert np.allclose(y, ref[:, 0], atol=1e-4)
    musan = load_data_dir(data / "musan")
    assert set(musan.spk2utt) == {"music", "noise", "speech"}
    rirs = load_data_dir(data / "rirs")
    assert set(rirs.spk2utt) == {"small", "medium", "large"}


def test_librilight_segments_mode(prepared, tmp_path):
    root, trees, _, _, _ = prepared
    corpora.prepare_librilight(root / "librilight", tmp_path, segments=True)
    dd = validate_data_dir(tmp_path / "librilight_small")
    assert dd.segments is not None and len(dd) == 2 * len(dd.wav_scp)
    assert all(u.startswith(dd.segments[u][0] + "-") for u in dd.segments)


def test_prepare_is_skipped_when_done(prepared, caplog):
    root, _, data, _, _ = prepared
    before = (data / "voxconverse_sv" / "wav.scp").stat().st_mtime_ns
    caplog.set_level("INFO")
    assert corpora.prepare_voxconverse_sv(root / "voxconverse_test_SV", data) == ["voxconverse_sv"]
    assert "skipping" in caplog.text
    assert (data / "voxconverse_sv" / "wav.scp").stat().st_mtime_ns == before


# ----------------------------------------------------------------------------- errors

def _run_prepare(argv, capsys):
    from seedkit.bin.prepare_corpus import main

    status = run_main(main, "seedkit-prepare-corpus", argv)
    return status, _errors(capsys)


def test_missing_corpus_dir_one_error_line(tmp_path, capsys):
    status, errors = _run_prepare(["musan", str(tmp_path / "nope"), str(tmp_path / "d")], capsys)
    assert status == 1 and len(errors) == 1
    assert "nope" in errors[0] and "MUSAN directory not found" in errors[0]


def test_empty_musan_dir(tmp_path, capsys):
    for cat in ("music", "noise", "speech"):
        (tmp_path / "musan" / cat / "x").mkdir(parents=True)
    status, errors = _run_prepare(["musan", str(tmp_path / "musan"), str(tmp_path / "d")], capsys)
    assert status == 1 and len(errors) == 1 and "no .wav files" in errors[0]
    assert not (tmp_path / "d" / "musan").exists()


def test_unreadable_wav_is_named(tmp_path, capsys):
    rl.write_musan(tmp_path, per_subset=1, categories=("music", "noise", "speech"))
    bad = tmp_path / "musan" / "noise" / "free-sound" / "noise-free-sound-0099.wav"
    bad.write_bytes(b"RIFF....not really a wave file")
    status, errors = _run_prepare(["musan", str(tmp_path / "musan"), str(tmp_path / "d")], capsys)
    assert status == 1 and len(errors) == 1
    assert str(bad) in errors[0] and "corrupt" in errors[0]


def test_trial_key_not_in_corpus(tmp_path):
    rl.write_voxceleb1(tmp_path / "vox", n_dev=1, n_test=2, videos=2, utts=1)
    with open(tmp_path / "vox" / "veri_test2.txt", "a") as f:
        f.write("1 id10270/AAAAAAAAAAA/00009.wav id10271/BBBBBBBBBBB/00001.wav\n")
    n = len((tmp_path / "vox" / "veri_test2.txt").read_text().splitlines())
    with pytest.raises(SeedkitError) as err:
        corpora.prepare_voxceleb1(tmp_path / "vox", tmp_path / "d")
    assert err.value.line == n and "id10270-AAAAAAAAAAA-00009" in err.value.message


def test_librilight_path_with_flac_is_refused(tmp_path):
    rl.write_librilight(tmp_path / "flac_corpora", speakers=("7",), files=1)
    with pytest.raises(SeedkitError, match="without 'flac'"):
        corpora.prepare_librilight(tmp_path / "flac_corpora", tmp_path / "d")


# ----------------------------------------------------------------------------- mini corpus

def _tiny_mini_corpus(root: Path) -> None:
    """A hand-made tree in the mini corpus layout (the layout of docs/corpus.md)."""
    rng = np.random.default_rng(0)
    for spk in ("tr01", "tr02"):
        for i in range(2):
            rl._write(root / "speech" / "train" / spk / f"{spk}-{i:04d}.wav",
                      rl.voice(16000, 1.0, 120 + 40 * int(spk[-1]), 1.0, rng), 16000)
    ev = root / "eval_sets" / "eval_clean"
    utts = {f"ev{s}-{i}": f"ev{s}" for s in (1, 2) for i in (1, 2)}
    for u in utts:
        rl._write(ev / "wav" / f"{u}.wav", rl.voice(16000, 1.0, 150.0, 1.0, rng), 16000)
    (ev / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts.items()))
    (ev / "utt2env").write_text("".join(f"{u} clean\n" for u in utts))
    (ev / "trials").write_text("ev1-1 ev1-2 target\nev1-1 ev2-1 nontarget\n")
    rl.write_musan(root, per_subset=1)
    rl.write_rirs_noises(root, rooms=1, per_room=1)
    rl.write_musan(root / "eval_envs", per_subset=1, seed=9)
    rl.write_rirs_noises(root / "eval_envs", rooms=1, per_room=1, seed=9)


def test_prepare_mini_corpus(tmp_path):
    _tiny_mini_corpus(tmp_path / "corpus")
    written = prepare_mini_corpus(tmp_path / "corpus", tmp_path / "data")
    assert written[:2] == ["train", "eval_clean"]
    assert {"musan", "musan_music", "rirs", "musan_eval", "rirs_eval"} <= set(written)
    train = validate_data_dir(tmp_path / "data" / "train")
    assert dict(train.utt2spk) == {f"{s}-{i:04d}": s for s in ("tr01", "tr02") for i in range(2)}
    ev = validate_data_dir(tmp_path / "data" / "eval_clean")
    assert ev.extra["utt2env"]["ev1-1"] == "clean"
    assert [(t.enroll, t.test, t.target) for t in read_trials(tmp_path / "data" / "eval_clean"
                                                               / "trials")] == [
        ("ev1-1", "ev1-2", True), ("ev1-1", "ev2-1", False)]
    assert (tmp_path / "data" / "manifests" / "train_recordings_all.jsonl.gz").is_file()


def test_mini_corpus_trials_with_unknown_key(tmp_path):
    _tiny_mini_corpus(tmp_path / "corpus")
    with open(tmp_path / "corpus" / "eval_sets" / "eval_clean" / "trials", "a") as f:
        f.write("ev1-1 ev9-9 nontarget\n")
    with pytest.raises(SeedkitError) as err:
        prepare_mini_corpus(tmp_path / "corpus", tmp_path / "data")
    assert err.value.line == 3 and "ev9-9" in err.value.message


def test_mini_corpus_missing(tmp_path, capsys):
    from seedkit.bin.prepare_mini_corpus import main

    assert run_main(main, "seedkit-prepare-mini-corpus",
                    [str(tmp_path / "corpus"), str(tmp_path / "data")]) == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and "seedkit-make-mini-corpus" in errors[0]


# ----------------------------------------------------------------------------- downloads

def test_fetch_resumes_checks_md5_and_skips(tmp_path, monkeypatch):
    payload = bytes(range(256)) * 1000
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    dest = tmp_path / "dl" / "file.bin"
    dest.parent.mkdir()
    (dest.parent / "file.bin.part").write_bytes(payload[:1000])  # an interrupted download
    calls = []
    real_open = download.open_url
    monkeypatch.setattr(download, "open_url", lambda u, s: (calls.append(s), real_open(u, s))[1])
    md5 = download.md5sum(src)
    download.fetch(src.as_uri(), dest, md5=md5)
    assert calls == [1000] and dest.read_bytes() == payload
    assert not (dest.parent / "file.bin.part").exists()
    download.fetch(src.as_uri(), dest, md5=md5)  # complete: no request at all
    assert calls == [1000]
    with pytest.raises(SeedkitError, match="md5"):
        download.fetch(src.as_uri(), tmp_path / "dl" / "other.bin", md5="0" * 32)
    assert (tmp_path / "dl" / "other.bin.bad").is_file()


def test_fetch_restarts_when_server_ignores_range(tmp_path, monkeypatch):
    payload = b"abcdefghij" * 100
    monkeypatch.setattr(download, "open_url",
                        lambda u, s: (io.BytesIO(payload), len(payload), s == 0))
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(b"garbage")
    download.fetch("http://example.invalid/f.bin", dest)
    assert dest.read_bytes() == payload


def _tar(root: Path, arcname: str, gz: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        tar.add(root, arcname=arcname)
    return buf.getvalue()


def _zip(root: Path, arcname: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(root.rglob("*")):
            zf.write(p, f"{arcname}/{p.relative_to(root)}")
    return buf.getvalue()


def test_downloads_through_lhotse_offline(tmp_path, monkeypatch):
    src = tmp_path / "src"
    rl.write_musan(src, per_subset=1)
    rl.write_rirs_noises(src, rooms=1, per_room=1)
    rl.write_librittsr(src, parts=("train-clean-100",), chapters=1, utts=1)
    rl.write_librilight(src / "ll", speakers=("5",), files=1)
    rl.write_voxconverse(src, conversations=("abcde",), speakers=2, utts=1)
    import lhotse.recipes.musan as m
    import lhotse.recipes.rir_noise as r

    small = _tar(src / "ll" / "small", "small", gz=False)
    files = {
        m.MUSAN_URL: _tar(src / "musan", "musan", gz=True),
        r.RIR_NOISE_ZIP_URL: _zip(src / "RIRS_NOISES", "RIRS_NOISES"),
        "http://www.openslr.org/resources/141/train_clean_100.tar.gz":
            _tar(src / "LibriTTS_R" / "train-clean-100", "LibriTTS_R/train-clean-100", gz=True),
        download.LIBRILIGHT_SMALL_URL: small,
        download.VOXCONVERSE_SV_URL: _zip(src / "voxconverse_test_SV", "voxconverse_test_SV"),
    }
    asked = archive_server(monkeypatch, files)
    corpora_dir = tmp_path / "corpora"
    import hashlib

    md5 = hashlib.md5(small).hexdigest()
    got = {
        "musan": download.ensure_corpus("musan", corpora_dir),
        "rirs_noises": download.ensure_corpus("rirs_noises", corpora_dir),
        "librittsr": download.ensure_corpus("librittsr", corpora_dir,
                                            parts=("train-clean-100",)),
        "librilight": download.ensure_corpus("librilight", corpora_dir,
                                             url=download.LIBRILIGHT_SMALL_URL, md5=md5),
        "voxconverse_sv": download.ensure_corpus("voxconverse_sv", corpora_dir),
    }
    for name, path in got.items():
        assert path == corpora_dir / download.CORPUS_DIRS[name]
        assert download.marker_path(corpora_dir, name).is_file()
    assert (corpora_dir / ".musan_completed").is_file()  # lhotse's own marker
    assert (corpora_dir / "LibriTTS_R" / "train-clean-100" / ".completed").is_file()
    n = len(asked)
    for name in got:  # complete: nothing is fetched again
        download.ensure_corpus(name, corpora_dir, parts=("train-clean-100",))
    assert len(asked) == n
    # the downloaded trees prepare like the originals
    assert corpora.prepare_musan(got["musan"], tmp_path / "data")[0] == "musan"
    # the published md5 of small.tar is checked by default
    with pytest.raises(SeedkitError, match="md5"):
        download.ensure_corpus("librilight", tmp_path / "other")


def test_download_failure_is_one_clear_error(tmp_path, monkeypatch, capsys):
    archive_server(monkeypatch, {})
    from seedkit.bin.download_corpus import main

    assert run_main(main, "seedkit-download-corpus", ["musan", str(tmp_path / "c")]) == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and "download of" in errors[0] and "resumes" in errors[0]


def test_on_disk_corpus_is_linked_not_downloaded(tmp_path, monkeypatch):
    asked = archive_server(monkeypatch, {})
    rl.write_voxceleb1(tmp_path / "mine", n_dev=1, n_test=2, videos=1, utts=2)
    dest = download.ensure_corpus("voxceleb1", tmp_path / "corpora", on_disk=tmp_path / "mine")
    assert dest.is_symlink() and (dest / "vox1_meta.csv").is_file() and asked == []
    assert download.ensure_corpus("voxceleb1", tmp_path / "corpora") == dest  # marker: skip
    with pytest.raises(SeedkitError, match="vox1_meta.csv"):
        download.ensure_corpus("voxceleb1", tmp_path / "c2", on_disk=tmp_path / "mine" / "wav")


def test_combine_data_dirs(prepared, tmp_path):
    _, _, data, _, _ = prepared
    parts = [data / "librittsr_train_clean_100", data / "librittsr_train_clean_360",
             data / "librilight_small"]
    dd = combine_data_dirs(parts, tmp_path / "train")
    validate_data_dir(tmp_path / "train")
    assert len(dd) == sum(len(load_data_dir(p)) for p in parts)
    with pytest.raises(SeedkitError, match="in two of the data dirs"):
        combine_data_dirs(parts[:1] * 2, tmp_path / "dup")


def test_voxceleb1_download_from_lhotse_part_urls(tmp_path, monkeypatch):
    from lhotse.recipes.voxceleb import VOXCELEB1_PARTS_URL

    rl.write_voxceleb1(tmp_path / "src", n_dev=2, n_test=2, videos=1, utts=2)
    spk = {ln.split("\t")[0]: ln.split("\t")[4]
           for ln in (tmp_path / "src" / "vox1_meta.csv").read_text().splitlines()[1:]}
    zips = {}
    for split in ("dev", "test"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for p in sorted((tmp_path / "src" / "wav").rglob("*.wav")):
                if spk[p.parent.parent.name] == split:
                    zf.write(p, str(p.relative_to(tmp_path / "src")))
        zips[split] = buf.getvalue()
    dev = zips["dev"]
    q = len(dev) // 4 + 1
    files = {u: dev[i * q:(i + 1) * q] for i, u in enumerate(VOXCELEB1_PARTS_URL[:4])}
    files[VOXCELEB1_PARTS_URL[4]] = zips["test"]
    files[VOXCELEB1_PARTS_URL[5]] = (tmp_path / "src" / "vox1_meta.csv").read_bytes()
    files[download.VOX1_TRIALS_URL] = (tmp_path / "src" / "veri_test2.txt").read_bytes()
    cache = tmp_path / "corpora" / "voxceleb1" / ".download"
    cache.mkdir(parents=True)
    part = VOXCELEB1_PARTS_URL[1].rsplit("/", 1)[1]
    (cache / f"{part}.part").write_bytes(files[VOXCELEB1_PARTS_URL[1]][:10])  # interrupted
    asked = archive_server(monkeypatch, files)
    dest = download.ensure_corpus("voxceleb1", tmp_path / "corpora")
    assert sorted(p.relative_to(dest) for p in (dest / "wav").rglob("*.wav")) == sorted(
        p.relative_to(tmp_path / "src") for p in (tmp_path / "src" / "wav").rglob("*.wav"))
    assert (dest / "veri_test2.txt").is_file() and len(asked) == 7
    assert corpora.prepare_voxceleb1(dest, tmp_path / "data")[0] == "voxceleb1_test"
