"""The cost table of docs/voxceleb_recipe.md: predicted wall time and disk per stage of the paper's
VoxCeleb run on one GPU node, with and without the 16 kHz copies of stage 2, beside the original
SEED code's loop.

Rates measured here, on the real-layout fixture files (``seedkit-make-real-layout``), one thread:
reading a 2.015 s crop in place (a 24 kHz wav resampled in memory, a 16 kHz FLAC) and from a 16 kHz
wav copy, stage 2's header check (files/s), and ffmpeg's conversion (audio seconds per second,
process start included, as stage 2 runs it per file). Rates taken from the repository's records
(no GPU here): extraction crops/s and training pairs/s of ``benchmarks/gpu_check.sh`` on one H200
(docs/backbones.md), given as options. Corpus sizes: the corpora's papers (see ``CORPORA``).

    .venv/bin/python benchmarks/cost_table.py [--extract-crops-per-s 1231.2]
        [--train-pairs-per-s 19375] [--nj 8]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from seedkit.corpus.real_layout import write_all
from seedkit.inplace import InPlaceFile

#: hours, files (utterances or recordings) of each corpus the paper's run reads
CORPORA = {
    # LibriTTS (Zen et al. 2019, Table 1): train-clean-100 53.78 h / 33,236 utterances,
    # train-clean-360 191.29 h / 116,500; LibriTTS-R keeps the utterances (24 kHz wav)
    "librittsr": (245.07, 149_736, 24000),
    # Libri-Light small (Kahn et al. 2020): 577 h of 16 kHz FLAC, one utterance per file; the
    # file count is an estimate (577 h in chapter files of about 13 min), not a published number
    "librilight": (577.0, 2_600, 16000),
    # MUSAN (Snyder et al. 2015): 109 h (music 42, speech 60, noise 6), 2,016 files
    "musan": (109.0, 2_016, 16000),
    # RIRS_NOISES simulated RIRs: 60,000 files of about 1 s
    "rirs_noises": (60_000 / 3600, 60_000, 16000),
    # VoxCeleb1 test part: 4,874 utterances of 8.2 s on average (352 h / 153,516 in all)
    "voxceleb1_test": (4_874 * 8.2 / 3600, 4_874, 16000),
}
TRAIN = ("librittsr", "librilight")
MB_PER_HOUR_16K = 16000 * 2 * 3600 / 1e6  # 16-bit mono 16 kHz wav
EPOCHS = 301  # the release's max_epoch + 1 (docs/method.md §6)
BATCH = 1200
CROP = 32240  # 2.015 s training crop
EVAL_CROPS = 10  # SEED protocol: 10 x 4.015 s per evaluation utterance


def _best(fn, n: int, repeat: int = 3) -> float:
    """Best of ``repeat`` timings of ``n`` calls of ``fn``: seconds per call."""
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - t) / n)
    return best


def _ffmpeg_seconds(src: Path, out: Path) -> float:
    """Best of 3 wall times of stage 2's ffmpeg conversion of ``src`` (process start included)."""
    cmd = [shutil.which("ffmpeg"), "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-ac",
           "1", "-ar", "16000", "-acodec", "pcm_s16le", str(out)]
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        best = min(best, time.perf_counter() - t)
    return best


def measure(root: Path) -> dict[str, float]:
    """Per-crop read times in place and from copies, header checks, ffmpeg's start and rate."""
    torch.set_num_threads(1)
    write_all(root, seed=0)
    tts = sorted((root / "LibriTTS_R").rglob("*.wav"))
    flac = sorted((root / "librilight").rglob("*.flac"))
    copies = root / "copies"
    copies.mkdir()
    for i, f in enumerate(tts):
        _ffmpeg_seconds(f, copies / f"{i}.wav")
    # ffmpeg: a 0.05 s file gives the per-file start; 120 s files the decode + resample rate
    x, sr = sf.read(str(tts[0]), dtype="float32")
    sf.write(root / "tiny.wav", x[:sr // 20], sr, subtype="PCM_16")
    long_x = np.resize(x, 120 * sr)
    sf.write(root / "long24.wav", long_x, sr, subtype="PCM_16")
    sf.write(root / "long16.flac", long_x[::3][:120 * 16000], 16000)
    start = _ffmpeg_seconds(root / "tiny.wav", root / "o.wav")
    rate24 = 120 / max(1e-6, _ffmpeg_seconds(root / "long24.wav", root / "o.wav") - start)
    rate16 = 120 / max(1e-6, _ffmpeg_seconds(root / "long16.flac", root / "o.wav") - start)
    copied = sorted(copies.glob("*.wav"))
    rng = np.random.default_rng(0)

    def crop_reader(files, in_place: bool):
        tables = [InPlaceFile(str(f), 16000) for f in files]
        lengths = [t.length() for t in tables]

        def read(i):
            k = i % len(tables)
            start = int(rng.integers(0, max(1, lengths[k] - CROP)))
            if in_place:
                tables[k].read(start, min(CROP, lengths[k] - start))
            else:
                sf.read(str(files[k]), start=start, frames=CROP, dtype="float32")
        return read

    return {
        "read_inplace_24k_s": _best(crop_reader(tts, True), 200),
        "read_inplace_flac_s": _best(crop_reader(flac, True), 200),
        "read_copy_s": _best(crop_reader(copied, False), 200),
        "header_s": _best(lambda i: InPlaceFile(str(tts[i % len(tts)]), 16000).check_end(), 200),
        "ffmpeg_start_s": start,
        "ffmpeg_rate_24k": rate24,
        "ffmpeg_rate_16k_flac": rate16,
    }


def hms(seconds: float) -> str:
    h = seconds / 3600
    return f"{h:.1f} h" if h >= 1 else f"{seconds / 60:.1f} min"


def table(m: dict[str, float], extract: float, train: float, nj: int) -> str:
    hours = {c: v[0] for c, v in CORPORA.items()}
    files = {c: v[1] for c, v in CORPORA.items()}
    all_files = sum(files.values())
    copy_gb = sum(hours.values()) * MB_PER_HOUR_16K / 1e3
    rate = {c: m["ffmpeg_rate_24k"] if v[2] == 24000 else m["ffmpeg_rate_16k_flac"]
            for c, v in CORPORA.items()}
    convert_s = sum(files[c] * m["ffmpeg_start_s"] + hours[c] * 3600 / rate[c]
                    for c in CORPORA) / nj
    check_s = all_files * m["header_s"] / nj
    utts = sum(files[c] for c in TRAIN)
    crops = utts * 4  # K=1: one clean crop + music, noise, reverb copies
    pairs = utts * 4  # (clean, clean) and three (clean, noisy): 300 utterances = 1,200 pairs
    # the in-place reads: LibriTTS-R resampled, Libri-Light FLAC, the rest 16 kHz wav
    frac = {c: files[c] / utts for c in TRAIN}
    read_in_place = utts * (frac["librittsr"] * m["read_inplace_24k_s"]
                            + frac["librilight"] * m["read_inplace_flac_s"])
    read_copy = utts * m["read_copy_s"]
    extract_s = crops / extract + files["voxceleb1_test"] * EVAL_CROPS / extract
    emb_gb = (crops + files["voxceleb1_test"] * (EVAL_CROPS + 1)) * 512 * 4 / 1e9
    train_pairs = EPOCHS * pairs
    train_s = train_pairs / train
    orig_s = EPOCHS * utts * 5 / extract
    rows = [
        ("2 16 kHz audio", f"{hms(convert_s)} (ffmpeg, {nj} jobs)", f"{copy_gb:.0f} GB",
         f"{hms(check_s)} (headers, {nj} jobs)", "0 GB"),
        ("3 pair specs", "seconds", "< 0.1 GB", "seconds", "< 0.1 GB"),
        ("4 reading the crops", f"{hms(read_copy / nj)} ({nj} readers)", "",
         f"{hms(read_in_place / nj)} ({nj} readers)", ""),
        ("4 embeddings", f"{hms(extract_s)} ({crops:,} + {files['voxceleb1_test'] * EVAL_CROPS:,}"
         " crops)", f"{emb_gb:.1f} GB", "same", "same"),
        ("5 training", f"{hms(train_s)} ({train_pairs / 1e6:.0f}M pairs)", "< 1 GB", "same",
         "same"),
    ]
    total_copy = convert_s + read_copy / nj + extract_s + train_s
    total_in = check_s + read_in_place / nj + extract_s + train_s
    out = ["| stage | with 16 kHz copies: time | disk | in place (default): time | disk |",
           "|---|---|---:|---|---:|"]
    out += [f"| {' | '.join(r)} |" for r in rows]
    out.append(f"| total (stages 2-5) | {hms(total_copy)} | {copy_gb + emb_gb:.0f} GB | "
               f"{hms(total_in)} | {emb_gb:.1f} GB |")
    out.append(f"| original SEED loop (5 backbone forwards per utterance per epoch, {EPOCHS} "
               f"epochs, same extraction rate) | {hms(orig_s)} ({EPOCHS * utts * 5 / 1e6:.0f}M "
               "crops) | | | |")
    out.append("")
    out.append(
        f"measured here (1 thread): a crop read in place {m['read_inplace_24k_s'] * 1e3:.2f} ms "
        f"(24 kHz wav, resampled), {m['read_inplace_flac_s'] * 1e3:.2f} ms (FLAC), from a 16 kHz "
        f"copy {m['read_copy_s'] * 1e3:.2f} ms; header check {m['header_s'] * 1e3:.2f} ms/file; "
        f"ffmpeg {m['ffmpeg_start_s'] * 1e3:.0f} ms per file + {m['ffmpeg_rate_24k']:.0f} s of "
        f"24 kHz wav / {m['ffmpeg_rate_16k_flac']:.0f} s of 16 kHz FLAC per s. Recorded (H200, "
        f"gpu_check): extraction {extract:,.0f} crops/s, training {train:,.0f} pairs/s.")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extract-crops-per-s", type=float, default=1231.2,
                   help="ResNetSE34V2 fp32 batch 128, H200 (docs/backbones.md gpu_check table)")
    p.add_argument("--train-pairs-per-s", type=float, default=19375.0,
                   help="torchrun 1 process D=512, H200 (docs/backbones.md gpu_check table)")
    p.add_argument("--nj", type=int, default=8, help="stage 2 and reading jobs (default: 8)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(Path(tmp))
    print(table(m, args.extract_crops_per_s, args.train_pairs_per_s, args.nj))


if __name__ == "__main__":
    main()
