"""Extraction speed: seedkit-extract against the bare model forward on the same tensors.

For each backbone, a synthetic data dir of 16 kHz wav files is embedded twice in the same
process, alternately, ``--repeats`` times:
  * bare:    the model's forward alone on the already-read, already-cut crops, batched exactly
             as seedkit-extract batches them (inference_mode, same device, same threads);
  * extract: seedkit-extract's loop (``seedkit.extract.run_extraction`` over
             ``iter_utterances``, with the same loaded model): reading the wav files, cutting
             crops, batching, the forward passes, finiteness checks, writing the ark, tqdm.
The best run of each is reported (the least disturbed by other load); overhead = extract / bare - 1.
Because that difference is small against load noise on a shared machine, the loop is also timed
with the forward replaced by a no-op ("loop w/o model"): its time over the bare forward time is
the overhead's own cost, measured without the model's noise.
RTF = seconds of compute per second of audio. The one-off costs of the command-line tool (Python
start-up, imports, building the model, loading the weights) are measured once, separately.

    .venv/bin/python benchmarks/bench_extract.py [--utts 12] [--repeats 3] [--threads 1]
        [--device cpu] [--backbones GE2E,ResNetSE34V2,ECAPA_TDNN] [--batch-sizes 10,40]

GE2E uses its real resemblyzer weights; ResNetSE34V2 and ECAPA_TDNN run with random weights
(same cost). Crops: GE2E ``full``; the SEED evaluation protocol ``multi:10:4.015`` for the others.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from seedkit.extract import build_embedder, iter_utterances, parse_crop, run_extraction
from seedkit.models.config import batch_size_for, load_backbone_config

REPO = Path(__file__).resolve().parent.parent
CONFS = {
    "GE2E": (REPO / "egs/mini/seed/conf/ge2e.yaml", "full"),
    "ResNetSE34V2": (REPO / "egs/voxceleb/seed/conf/resnetse34v2.yaml", "multi:10:4.015"),
    "ECAPA_TDNN": (REPO / "egs/voxceleb/seed/conf/ecapa_tdnn.yaml", "multi:10:4.015"),
}


def make_data(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` utterances of 3-9 s (harmonic tones + noise) as 16-bit wavs in a data dir."""
    rng = np.random.default_rng(seed)
    data = root / "data"
    data.mkdir(parents=True)
    wavs, u2s = [], []
    for i in range(n):
        num = int(rng.uniform(3.0, 9.0) * 16000)
        t = np.arange(num) / 16000
        f0 = rng.uniform(90, 250)
        x = sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
        x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t)) + 0.01 * rng.standard_normal(num)
        utt = f"spk{i % 4}-utt{i:03d}"
        path = root / "wav" / f"{utt}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(str(path), x.astype(np.float32), 16000, subtype="PCM_16")
        wavs.append(f"{utt} {path}")
        u2s.append(f"{utt} spk{i % 4}")
    order = np.argsort([w.split()[0] for w in wavs])
    (data / "wav.scp").write_text("".join(wavs[i] + "\n" for i in order))
    (data / "utt2spk").write_text("".join(u2s[i] + "\n" for i in order))
    return data


class NullEmbedder:
    """The extraction loop's view of a model, with a no-op forward (measures the loop's cost)."""

    def __init__(self, real):
        self.sample_rate, self.min_samples = real.sample_rate, real.min_samples
        self.dim = int(real.model.embed_dim)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return np.zeros((len(crops), self.dim), np.float32)


def bare_forward(embedder, batches: list[np.ndarray]) -> float:
    """Seconds for the model forward alone over ``batches`` (tensors made beforehand)."""
    tensors = [torch.from_numpy(b).to(embedder.device) for b in batches]
    sync = torch.cuda.synchronize if embedder.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x in tensors:
            embedder.model(x * embedder.input_scale if embedder.input_scale != 1.0 else x)
    sync()
    return time.perf_counter() - t0


def run_extract(embedder, data: Path, cfg, mode, ark: str, batch_size: int) -> float:
    """Seconds of seedkit-extract's loop (read, crop, batch, embed, check, write)."""
    total, items = iter_utterances(data, cfg.sample_rate, mode, 0, embedder.min_samples)
    return run_extraction(embedder, items, total, f"ark:{ark}", mode, batch_size,
                          progress=True).seconds


def batches_like_extract(utts, mode, batch_size: int) -> list[np.ndarray]:
    """Group crops exactly as seedkit.extract.run_extraction does."""
    out, pending = [], []
    for u in utts:
        pending.append(u.crops)
        if mode.kind == "full" or sum(len(c) for c in pending) >= batch_size:
            out.append(np.concatenate(pending))
            pending = []
    if pending:
        out.append(np.concatenate(pending))
    return out


def cli_startup(conf: Path, data: Path, out: Path, crop: str, device: str, threads: int) -> float:
    """Wall seconds of one seedkit-extract process (imports, model build and load included)."""
    exe = Path(sys.executable).parent / "seedkit-extract"
    cmd = [str(exe), "--config", str(conf), "--allow-random-weights", "--crop", crop,
           "--device", device, "--num-threads", str(threads), "--no-progress", str(data),
           f"ark:{out}"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=12)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--backbones", default=",".join(CONFS))
    p.add_argument("--no-cli", action="store_true", help="skip the process start-up measurement")
    p.add_argument("--batch-sizes", default="",
                   help="comma list of crops per forward to compare, e.g. 10,40 (default: the "
                   "conf's for the device, as seedkit-extract picks it)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp), args.utts)
        for name in args.backbones.split(","):
            conf, crop = CONFS[name]
            cfg = load_backbone_config(conf)
            mode = parse_crop(crop)
            embedder = build_embedder(cfg, device=args.device, allow_random_weights=True)
            _, it = iter_utterances(data, cfg.sample_rate, mode, 0, embedder.min_samples)
            utts = list(it)
            audio = sum(len(u.samples) for u in utts) / cfg.sample_rate
            sizes = ([int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes else
                     [batch_size_for(cfg, torch.device(args.device).type)])
            bare = {b: [] for b in sizes}
            ext = {b: [] for b in sizes}
            loop = {b: [] for b in sizes}
            batches = {b: batches_like_extract(utts, mode, b) for b in sizes}
            bare_forward(embedder, batches[sizes[0]][:1])  # warm-up (allocator, oneDNN plans)
            for r in range(args.repeats):  # alternate the order: load drifts over time
                for bs in sizes:  # batch sizes interleaved too, for the same reason
                    ark = f"{tmp}/{name}.ark"
                    if r % 2:
                        ext[bs].append(run_extract(embedder, data, cfg, mode, ark, bs))
                        bare[bs].append(bare_forward(embedder, batches[bs]))
                    else:
                        bare[bs].append(bare_forward(embedder, batches[bs]))
                        ext[bs].append(run_extract(embedder, data, cfg, mode, ark, bs))
                    loop[bs].append(run_extract(NullEmbedder(embedder), data, cfg, mode, ark, bs))
            startup = float("nan") if args.no_cli else cli_startup(
                conf, data, Path(tmp) / f"{name}.cli.ark", crop, args.device, args.threads)
            for bs in sizes:
                b, e = min(bare[bs]), min(ext[bs])
                rows.append((name, crop, bs, len(utts), audio, len(utts) / b, b / audio,
                             len(utts) / e, e / audio, 100 * (e / b - 1),
                             100 * min(loop[bs]) / b, startup - e))
    dev = args.device if args.device != "cuda" else f"cuda ({torch.cuda.get_device_name()})"
    print(f"\ndevice {dev}, torch threads {args.threads}, {args.utts} utterances of 3-9 s, "
          f"best of {args.repeats}")
    head = ("| backbone | crop | batch | utts | audio s | bare utt/s | bare RTF | extract utt/s "
            "| extract RTF | overhead | loop w/o model | CLI one-off s |")
    print(head)
    print("|" + "---|" * 12)
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.1f} | {r[5]:.2f} | {r[6]:.4f} | "
              f"{r[7]:.2f} | {r[8]:.4f} | {r[9]:+.1f}% | {r[10]:.1f}% | {r[11]:.1f} |")
    print("overhead = extract / bare - 1 (direct, sensitive to machine load); loop w/o model = "
          "the same extraction loop with the forward replaced by a no-op, as % of the bare "
          "forward time (the overhead's own cost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
