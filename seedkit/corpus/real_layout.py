"""Tiny corpora in the exact on-disk layouts of the real ones, filled with synthesised audio.

The VoxCeleb recipe cannot download its corpora on a test machine, so its stages are tested on
these trees instead. Each writer produces the layout the corresponding download (lhotse's, or the
published archive) leaves on disk, and that lhotse's ``prepare_*`` function reads:

=====================  =========================================================================
``write_voxceleb1``    ``<root>/wav/idXXXXX/<ytid>/00001.wav`` (16 kHz), ``vox1_meta.csv``
                       (tab-separated: id, name, gender, nationality, dev|test) and the cleaned
                       VoxCeleb1-O list ``veri_test2.txt`` (``1 id10270/<yt>/00001.wav <b.wav>``)
``write_librittsr``    ``<root>/LibriTTS_R/<part>/<spk>/<chapter>/<spk>_<chapter>_<p>_<s>.wav``
                       (24 kHz) with ``.normalized.txt``, ``.original.txt``,
                       ``<spk>_<chapter>.trans.tsv``, ``<spk>_<chapter>.book.tsv``; ``SPEAKERS.txt``
``write_librilight``   ``<root>/small/<spk>/<book>/<name>.flac`` (16 kHz) + ``<name>.json`` with
                       ``speaker``, ``voice_activity``, ``snr``, ``book_meta``
``write_musan``        ``<root>/musan/{music,noise,speech}/<subset>/<cat>-<subset>-NNNN.wav`` with
                       ``ANNOTATIONS`` per subset (raw MUSAN, not voxceleb_trainer's musan_split)
``write_rirs_noises``  ``<root>/RIRS_NOISES/simulated_rirs/{small,medium,large}room/RoomNNN/
                       RoomNNN-NNNNN.wav`` + ``rir_list`` per room type,
                       ``real_rirs_isotropic_noises/`` (2-channel RIRs and noises, ``rir_list``,
                       ``noise_list``), ``pointsource_noises/`` (+ ``noise_list``)
``write_voxconverse``  ``<root>/voxconverse_test_SV/<conv>/<spk>_NNNNN.wav`` and
                       ``trials_wo_overlap.txt`` (``0|1 <conv>/<a>.wav <conv>/<b>.wav``)
=====================  =========================================================================

:func:`write_all` writes every tree under one root with the directory names that
:mod:`seedkit.prepare.download` uses (``voxceleb1/``, ``musan/``, ``RIRS_NOISES/``,
``LibriTTS_R/``, ``librilight/``, ``voxconverse_test_SV/``). Same seed, same bytes.

The audio is a harmonic "voice" per speaker (fixed f0 and formant-like tilt, syllable-rate
amplitude modulation) plus a little noise; music is chords, noise is coloured noise, RIRs are
exponentially decaying noise after a direct-path impulse. It is not speech; it is only meant to
exercise the preparation code (file formats, rates, lengths, keys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf

from seedkit.errors import PathLike
from seedkit.rng import repr_rng

_YT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _write(path: Path, x: np.ndarray, rate: int, fmt: str = "WAV") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x.T  # [channels, n] -> [n, channels]
    sf.write(str(path), x, rate, subtype="PCM_16", format=fmt)


def voice(rate: int, seconds: float, f0: float, tilt: float, rng: np.random.Generator
          ) -> np.ndarray:
    """A speech-like harmonic signal: f0 with vibrato, spectral tilt, syllable-rate envelope."""
    n = max(1, int(round(seconds * rate)))
    t = np.arange(n) / rate
    f = f0 * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.28)))
    phase = 2 * np.pi * np.cumsum(f) / rate
    x = np.zeros(n)
    for h in range(1, 12):
        if h * f0 > rate / 2 * 0.9:
            break
        x += np.sin(h * phase + rng.uniform(0, 6.28)) / h ** tilt
    env = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6.28))
    x = x * env + 0.02 * rng.standard_normal(n)
    return (0.3 * x / (np.max(np.abs(x)) + 1e-9)).astype(np.float32)


def colored_noise(rate: int, seconds: float, exponent: float, rng: np.random.Generator
                  ) -> np.ndarray:
    """Noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown), peak 0.3."""
    n = max(2, int(round(seconds * rate)))
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    freqs[0] = freqs[1]
    x = np.fft.irfft(spec / freqs ** (exponent / 2), n)
    return (0.3 * x / (np.max(np.abs(x)) + 1e-9)).astype(np.float32)


def chords(rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Music-like signal: a sequence of random triads with decaying notes."""
    n = max(1, int(round(seconds * rate)))
    x = np.zeros(n)
    step = int(rate * rng.uniform(0.25, 0.5))
    for start in range(0, n, step):
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        seg = np.arange(min(step, n - start)) / rate
        for ratio in (1.0, 1.26, 1.5):
            x[start:start + len(seg)] += np.sin(2 * np.pi * root * ratio * seg) * np.exp(-3 * seg)
    return (0.3 * x / (np.max(np.abs(x)) + 1e-9)).astype(np.float32)


def rir(rate: int, rt60: float, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """A room impulse response: direct-path impulse then exponentially decaying noise."""
    n = int(rate * rt60)
    t = np.arange(n) / rate
    decay = np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    out = []
    for _ in range(channels):
        h = 0.3 * rng.standard_normal(n) * decay
        delay = int(rng.integers(5, 40))
        h[:delay] = 0.0
        h[delay] = 1.0
        out.append(h / np.max(np.abs(h)) * 0.9)
    arr = np.stack(out).astype(np.float32)
    return arr[0] if channels == 1 else arr


@dataclass
class Tree:
    """What a writer produced: its root and the audio files it wrote (relative to the root)."""

    root: Path
    files: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------- VoxCeleb1

def _ytid(rng: np.random.Generator) -> str:
    return "".join(_YT_ALPHABET[i] for i in rng.integers(0, len(_YT_ALPHABET), 11))


def write_voxceleb1(root: PathLike, n_dev: int = 3, n_test: int = 4, videos: int = 2,
                    utts: int = 2, seconds: tuple[float, float] = (1.0, 3.0), seed: int = 0,
                    trials_name: str = "veri_test2.txt") -> Tree:
    """VoxCeleb1 as ``download_voxceleb1`` leaves it (both zips unpacked into ``root``).

    Test speakers are ``id10270...``, dev speakers ``id10001...``; ``trials_name`` holds, for every
    test utterance, one target trial (another video of the same speaker) and one non-target trial,
    in the VoxCeleb form with paths relative to ``wav/``.
    """
    root = Path(root)
    tree = Tree(root)
    speakers = [(f"id{10001 + i}", "dev") for i in range(n_dev)]
    speakers += [(f"id{10270 + i}", "test") for i in range(n_test)]
    meta = ["VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"]
    by_spk: dict[str, list[tuple[str, str]]] = {}
    for si, (spk, split) in enumerate(speakers):
        rng = repr_rng(seed, "vox1", spk)
        gender = "m" if si % 2 == 0 else "f"
        meta.append(f"{spk}\tCeleb_{si:03d}\t{gender}\tNowhere\t{split}")
        f0 = float(rng.uniform(90, 240))
        tilt = float(rng.uniform(0.7, 1.6))
        for _ in range(videos):
            yt = _ytid(rng)
            for u in range(1, utts + 1):
                rel = f"{spk}/{yt}/{u:05d}.wav"
                sec = float(rng.uniform(*seconds))
                _write(root / "wav" / rel, voice(16000, sec, f0, tilt, rng), 16000)
                tree.files.append(f"wav/{rel}")
                by_spk.setdefault(spk, []).append((yt, rel))
    (root / "vox1_meta.csv").write_text("\n".join(meta) + "\n")
    test_spk = [s for s, split in speakers if split == "test"]
    lines = []
    for i, spk in enumerate(test_spk):
        other = test_spk[(i + 1) % len(test_spk)]
        for yt, rel in by_spk[spk]:
            same = [r for y, r in by_spk[spk] if y != yt] or [r for _, r in by_spk[spk]
                                                                if r != rel]
            lines.append(f"1 {rel} {same[0]}")
            lines.append(f"0 {rel} {by_spk[other][len(lines) % len(by_spk[other])][1]}")
    (root / trials_name).write_text("\n".join(lines) + "\n")
    tree.info = {"speakers": dict(speakers), "trials": root / trials_name,
                 "n_target": sum(ln[0] == "1" for ln in lines),
                 "n_nontarget": sum(ln[0] == "0" for ln in lines)}
    return tree


# --------------------------------------------------------------------------------- LibriTTS-R

def write_librittsr(root: PathLike, parts: tuple[str, ...] = ("train-clean-100",),
                    speakers: tuple[str, ...] = ("19", "190", "26"), chapters: int = 2,
                    utts: int = 2, seconds: tuple[float, float] = (1.0, 3.0), seed: int = 0,
                    extra_untranscribed: bool = True) -> Tree:
    """LibriTTS-R as ``download_librittsr(root)`` leaves it: ``root/LibriTTS_R/<part>/...``.

    Per chapter: ``<spk>_<chapter>.trans.tsv`` (``id<TAB>original<TAB>normalized``),
    ``<spk>_<chapter>.book.tsv`` (the last column is the SNR lhotse reads) and per utterance a
    24 kHz wav with ``.original.txt``/``.normalized.txt``. With ``extra_untranscribed``, one wav per
    part is not listed in any ``trans.tsv`` (as in the real corpus, lhotse drops it).
    Speakers ``19`` and ``190`` are there on purpose: with ``_`` in utterance ids their C sort order
    disagrees with the speakers' (``190_x`` < ``19_x``), which the Kaldi export must handle.
    """
    root = Path(root)
    base = root / "LibriTTS_R"
    tree = Tree(base)
    spk_lines = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for pi, part in enumerate(parts):
        for si, spk in enumerate(speakers):
            spk_id = spk if pi == 0 else str(int(spk) + 1000 * pi)
            rng = repr_rng(seed, "librittsr", part, spk_id)
            spk_lines.append(f"{spk_id:<5}| {'F' if si % 2 else 'M'} | {part:<16} | 25.00 | "
                             f"Reader {spk_id}")
            f0 = float(rng.uniform(90, 240))
            tilt = float(rng.uniform(0.7, 1.6))
            for c in range(chapters):
                chapter = str(100 + 37 * c + si)
                cdir = base / part / spk_id / chapter
                trans, book = [], []
                for u in range(utts):
                    uid = f"{spk_id}_{chapter}_{u:06d}_{u % 2:06d}"
                    text = f"Utterance {u} of chapter {chapter}."
                    sec = float(rng.uniform(*seconds))
                    _write(cdir / f"{uid}.wav", voice(24000, sec, f0, tilt, rng), 24000)
                    (cdir / f"{uid}.original.txt").write_text(text)
                    (cdir / f"{uid}.normalized.txt").write_text(text)
                    tree.files.append(str((cdir / f"{uid}.wav").relative_to(base)))
                    trans.append(f"{uid}\t{text}\t{text}")
                    book.append(f"{uid}\t{text}\t{text}\ttrue\t{u * 3.1:.2f}\t"
                                f"{u * 3.1 + sec:.2f}\t{rng.uniform(15, 40):.3f}")
                (cdir / f"{spk_id}_{chapter}.trans.tsv").write_text("\n".join(trans) + "\n")
                (cdir / f"{spk_id}_{chapter}.book.tsv").write_text("\n".join(book) + "\n")
        if extra_untranscribed:
            spk_id = speakers[0] if pi == 0 else str(int(speakers[0]) + 1000 * pi)
            chapter = "100"
            uid = f"{spk_id}_{chapter}_000999_000000"
            rng = repr_rng(seed, "librittsr-extra", part)
            _write(base / part / spk_id / chapter / f"{uid}.wav",
                   voice(24000, 1.0, 150.0, 1.0, rng), 24000)
    (base / "SPEAKERS.txt").write_text("\n".join(spk_lines) + "\n")
    tree.info = {"parts": list(parts), "utterances": len(tree.files)}
    return tree


# --------------------------------------------------------------------------------- Libri-Light

def write_librilight(root: PathLike, speakers: tuple[str, ...] = ("100", "1001"),
                     books: int = 1, files: int = 2, seconds: tuple[float, float] = (3.0, 5.0),
                     seed: int = 0) -> Tree:
    """Libri-Light ``small`` as ``tar -xf small.tar`` leaves it: ``root/small/<spk>/<book>/``.

    Each chapter file is a 16 kHz flac with a json beside it holding ``speaker``,
    ``voice_activity`` (list of ``[start, end]`` seconds), ``snr`` and ``book_meta``.
    """
    root = Path(root)
    tree = Tree(root)
    for spk in speakers:
        rng = repr_rng(seed, "librilight", spk)
        f0 = float(rng.uniform(90, 240))
        tilt = float(rng.uniform(0.7, 1.6))
        for b in range(books):
            book = f"book_{b:02d}_{spk}_librivox_64kb_mp3"
            for i in range(files):
                name = f"{i + 1:02d}_author_book{b}_64kb"
                sec = float(rng.uniform(*seconds))
                path = root / "small" / spk / book / f"{name}.flac"
                _write(path, voice(16000, sec, f0, tilt, rng), 16000, fmt="FLAC")
                mid = round(sec / 2, 2)
                meta = {"speaker": spk, "snr": round(float(rng.uniform(5, 30)), 3),
                        "voice_activity": [[0.1, mid - 0.1], [mid + 0.1, round(sec - 0.1, 2)]],
                        "book_meta": {"id": str(1000 + b), "title": f"Book {b}",
                                      "language": "English"}}
                (path.parent / f"{name}.json").write_text(json.dumps(meta))
                tree.files.append(str(path.relative_to(root)))
    tree.info = {"files": len(tree.files)}
    return tree


# --------------------------------------------------------------------------------- MUSAN

MUSAN_SUBSETS = {
    "music": ("fma", "jamendo"),
    "noise": ("free-sound", "sound-bible"),
    "speech": ("librivox", "us-gov"),
}


def write_musan(root: PathLike, per_subset: int = 2, seconds: tuple[float, float] = (1.5, 4.0),
                seed: int = 0, categories: tuple[str, ...] = ("music", "noise", "speech")
                ) -> Tree:
    """Raw MUSAN as ``download_musan(root)`` leaves it: ``root/musan/<cat>/<subset>/*.wav``.

    The first noise file of each subset is shorter than 2.015 s, to exercise wrap padding.
    """
    root = Path(root)
    base = root / "musan"
    tree = Tree(base)
    (base).mkdir(parents=True, exist_ok=True)
    (base / "README").write_text("MUSAN (synthesised test fixture)\n")
    for cat in categories:
        for subset in MUSAN_SUBSETS[cat]:
            ann = []
            for i in range(per_subset):
                name = f"{cat}-{subset}-{i:04d}"
                rng = repr_rng(seed, "musan", name)
                sec = float(rng.uniform(*seconds))
                if cat == "noise" and i == 0:
                    sec = 1.2
                if cat == "music":
                    x = chords(16000, sec, rng)
                    ann.append(f"{name} Classical,Jazz {'Y' if i % 2 else 'N'} Artist_{i}")
                elif cat == "noise":
                    x = colored_noise(16000, sec, float(rng.choice([0.0, 1.0, 2.0])), rng)
                    ann.append(f"{name} {'background' if i % 2 else 'foreground'}")
                else:
                    x = voice(16000, sec, float(rng.uniform(90, 240)), 1.0, rng)
                    ann.append(f"{name} {'male' if i % 2 else 'female'} English")
                _write(base / cat / subset / f"{name}.wav", x, 16000)
                tree.files.append(f"{cat}/{subset}/{name}.wav")
            (base / cat / subset / "ANNOTATIONS").write_text("\n".join(ann) + "\n")
            (base / cat / subset / "LICENSE").write_text("synthesised\n")
    return tree


# --------------------------------------------------------------------------------- RIRS_NOISES

def write_rirs_noises(root: PathLike, rooms: int = 2, per_room: int = 2, seed: int = 0,
                      rate: int = 16000) -> Tree:
    """RIRS_NOISES (OpenSLR 28) as ``download_rir_noise(root)`` leaves it: ``root/RIRS_NOISES``."""
    root = Path(root)
    base = root / "RIRS_NOISES"
    tree = Tree(base)
    sim = base / "simulated_rirs"
    sim.mkdir(parents=True, exist_ok=True)
    (sim / "README").write_text("Simulated RIRs (synthesised test fixture)\n")
    rt60 = {"smallroom": 0.15, "mediumroom": 0.3, "largeroom": 0.5}
    for rtype, t60 in rt60.items():
        lines = []
        for r in range(1, rooms + 1):
            room = f"Room{r:03d}"
            for k in range(1, per_room + 1):
                name = f"{room}-{k:05d}"
                rng = repr_rng(seed, "rir", rtype, name)
                _write(sim / rtype / room / f"{name}.wav", rir(rate, t60, rng), rate)
                rel = f"simulated_rirs/{rtype}/{room}/{name}.wav"
                tree.files.append(rel)
                lines.append(f"--rir-id {rtype}-{name} --room-id {rtype}-{room} "
                             f"RIRS_NOISES/{rel}")
        (sim / rtype / "rir_list").write_text("\n".join(lines) + "\n")
        (sim / rtype / "room_info").write_text(
            "\n".join(f"{rtype}-Room{r:03d} 5.0 4.0 3.0" for r in range(1, rooms + 1)) + "\n")
    real = base / "real_rirs_isotropic_noises"
    rng = repr_rng(seed, "real")
    rir_name = "RVB2014_type1_rir_largeroom1_far_angla"
    noise_name = "RVB2014_type1_noise_largeroom1_1"
    _write(real / f"{rir_name}.wav", rir(rate, 0.4, rng, channels=2), rate)
    _write(real / f"{noise_name}.wav",
           np.stack([colored_noise(rate, 1.5, 1.0, rng) for _ in range(2)]), rate)
    tree.files += [f"real_rirs_isotropic_noises/{rir_name}.wav",
                   f"real_rirs_isotropic_noises/{noise_name}.wav"]
    (real / "rir_list").write_text(
        f"--rir-id {rir_name} --room-id RVB2014_type1_largeroom1 "
        f"RIRS_NOISES/real_rirs_isotropic_noises/{rir_name}.wav\n")
    (real / "noise_list").write_text(
        f"--noise-id {noise_name} --noise-type isotropic --bg-fg-type background "
        f"--room-linkage RVB2014_type1_largeroom1 "
        f"RIRS_NOISES/real_rirs_isotropic_noises/{noise_name}.wav\n")
    point = base / "pointsource_noises"
    lines = []
    for i in range(2):
        name = f"noise-free-sound-{i:04d}"
        _write(point / f"{name}.wav", colored_noise(rate, 1.0, float(i), repr_rng(seed, name)),
               rate)
        tree.files.append(f"pointsource_noises/{name}.wav")
        lines.append(f"--noise-id {name} --noise-type point-source --bg-fg-type "
                     f"{'foreground' if i else 'background'} RIRS_NOISES/pointsource_noises/"
                     f"{name}.wav")
    (point / "noise_list").write_text("\n".join(lines) + "\n")
    (base / "README").write_text("RIRS_NOISES (synthesised test fixture)\n")
    return tree


# --------------------------------------------------------------------------------- VoxConverse-SV

def write_voxconverse(root: PathLike, conversations: tuple[str, ...] = ("aepyx", "bvqnu"),
                      speakers: int = 3, utts: int = 2, seconds: tuple[float, float] = (1.0, 3.0),
                      seed: int = 0, with_targets: bool = True) -> Tree:
    """VoxConverse-test-SV as its zip unpacks: ``root/voxconverse_test_SV/<conv>/<spk>_N.wav``.

    ``trials_wo_overlap.txt`` (paths relative to ``voxconverse_test_SV/``) lists every pair of
    different speakers of the same conversation as non-target (``0``); with ``with_targets``,
    same-speaker pairs too (``1``), which VC-Mix must leave out. Every file of a conversation shares
    one noise background (the session), so non-target pairs share an environment.
    """
    root = Path(root)
    base = root / "voxconverse_test_SV"
    tree = Tree(base)
    lines = []
    for conv in conversations:
        crng = repr_rng(seed, "vc", conv)
        bg = colored_noise(16000, 4.0, float(crng.uniform(0, 2)), crng) * 0.2
        files: dict[int, list[str]] = {}
        for s in range(speakers):
            rng = repr_rng(seed, "vc", conv, s)
            f0 = float(rng.uniform(90, 240))
            for u in range(utts):
                rel = f"{conv}/spk{s:02d}_{u + 1:05d}.wav"
                x = voice(16000, float(rng.uniform(*seconds)), f0, 1.0, rng)
                x = x + np.resize(bg, len(x))
                _write(base / rel, x, 16000)
                tree.files.append(rel)
                files.setdefault(s, []).append(rel)
        for s in range(speakers):
            for t in range(s + 1, speakers):
                for a, b in zip(files[s], files[t]):
                    lines.append(f"0 {a} {b}")
            if with_targets and len(files[s]) > 1:
                lines.append(f"1 {files[s][0]} {files[s][1]}")
    (base / "trials_wo_overlap.txt").write_text("\n".join(lines) + "\n")
    tree.info = {"n_nontarget": sum(ln[0] == "0" for ln in lines),
                 "n_target": sum(ln[0] == "1" for ln in lines)}
    return tree


# --------------------------------------------------------------------------------- everything

def write_all(root: PathLike, seed: int = 0, librittsr_parts: tuple[str, ...] = (
        "train-clean-100", "train-clean-360"), scale: Optional[int] = None) -> dict[str, Tree]:
    """Every real-layout tree under ``root``, named as :mod:`seedkit.prepare.download` names them.

    ``scale`` (default 1) multiplies the speaker/file counts for bigger end-to-end tests.
    """
    root = Path(root)
    k = max(1, int(scale or 1))
    return {
        "voxceleb1": write_voxceleb1(root / "voxceleb1", n_dev=3 * k, n_test=4 * k, seed=seed),
        "librittsr": write_librittsr(root, parts=librittsr_parts, chapters=2 * k, seed=seed),
        "librilight": write_librilight(root / "librilight", files=2 * k, seed=seed),
        "musan": write_musan(root, per_subset=2 * k, seed=seed),
        "rirs_noises": write_rirs_noises(root, rooms=2 * k, seed=seed),
        "voxconverse_sv": write_voxconverse(root, utts=2 * k, seed=seed),
    }


__all__ = [
    "MUSAN_SUBSETS",
    "Tree",
    "chords",
    "colored_noise",
    "rir",
    "voice",
    "write_all",
    "write_librilight",
    "write_librittsr",
    "write_musan",
    "write_rirs_noises",
    "write_voxceleb1",
    "write_voxconverse",
]
