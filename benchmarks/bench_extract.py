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

Backbones ported from a library are also timed, in the same alternation, against that library's
own inference loop on the same crops with the same threads (``library`` columns; ratio = library
seconds / seedkit-extract seconds, >= 1: seedkit at least as fast):
  * ONNX (WeSpeaker's ResNet34 with random weights, exported to [B, T, 80] fbank -> [B, 256]
    with sherpa-onnx's wespeaker metadata): ``sherpa_onnx.SpeakerEmbeddingExtractor``, one
    stream per crop (``create_stream``, ``accept_waveform``, ``input_finished``, ``compute``:
    its API embeds one waveform per call);
  * SpeechBrainECAPA: SpeechBrain's ``EncoderClassifier.encode_batch`` steps on the same batches
    (``Fbank`` -> ``InputNormalization`` (sentence, mean only) -> ``ECAPA_TDNN``, no_grad),
    with the seedkit model's weights.

    .venv/bin/python benchmarks/bench_extract.py [--utts 12] [--repeats 3] [--threads 1]
        [--device cpu] [--backbones GE2E,ResNetSE34V2,ECAPA_TDNN,ONNX,SpeechBrainECAPA]
        [--batch-sizes 10,40]

GE2E uses its real resemblyzer weights; the others run with random weights (same cost). Crops:
GE2E ``full``; the SEED evaluation protocol ``multi:10:4.015`` for the others.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from seedkit.crops import parse_crop
from seedkit.extract import build_embedder, iter_utterances, run_extraction
from seedkit.models.config import batch_size_for, load_backbone_config

REPO = Path(__file__).resolve().parent.parent
CONFS = {
    "GE2E": (REPO / "egs/mini/seed/conf/ge2e.yaml", "full"),
    "ResNetSE34V2": (REPO / "egs/voxceleb/seed/conf/resnetse34v2.yaml", "multi:10:4.015"),
    "ECAPA_TDNN": (REPO / "egs/voxceleb/seed/conf/ecapa_tdnn.yaml", "multi:10:4.015"),
    "ONNX": (REPO / "egs/voxceleb/seed/conf/onnx_wespeaker.yaml", "multi:10:4.015"),
    "SpeechBrainECAPA": (REPO / "egs/voxceleb/seed/conf/speechbrain_ecapa.yaml",
                         "multi:10:4.015"),
}
#: sherpa-onnx's metadata of a WeSpeaker export (scripts/wespeaker/add_meta_data.py)
WESPEAKER_META = {"framework": "wespeaker", "language": "English", "url": "random weights",
                  "comment": "bench_extract", "sample_rate": 16000, "output_dim": 256,
                  "normalize_samples": 0}


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


def export_resnet34_onnx(out: Path) -> Path:
    """WeSpeaker's ResNet34 (seedkit's port, random weights) as a sherpa-onnx style ONNX file."""
    from seedkit.models.onnx_backbone import write_metadata
    from seedkit.models.registry import build_backbone

    torch.manual_seed(0)
    net = build_backbone("WeSpeakerResNet34").eval()

    class Features2Embedding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, feats: torch.Tensor) -> torch.Tensor:
            return self.net.embed_features(feats)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Features2Embedding(), (torch.randn(1, 200, 80),), str(out),
                          input_names=["feats"], output_names=["embs"], opset_version=14,
                          dynamic_axes={"feats": {0: "B", 1: "T"}, "embs": {0: "B"}},
                          dynamo=False)
    write_metadata(out, WESPEAKER_META)
    return out


def onnx_conf(tmp: Path) -> Path:
    """onnx_wespeaker.yaml pointing at a freshly exported ResNet34."""
    model = export_resnet34_onnx(tmp / "resnet34.onnx")
    text = (REPO / "egs/voxceleb/seed/conf/onnx_wespeaker.yaml").read_text()
    lines = [f"onnx: {model}" if ln.startswith("onnx:") else ln for ln in text.splitlines()]
    conf = tmp / "onnx_wespeaker.yaml"
    conf.write_text("\n".join(lines) + "\n")
    return conf


class SherpaLoop:
    """sherpa-onnx's speaker-embedding extractor: one stream per crop."""

    def __init__(self, embedder, threads: int):
        import sherpa_onnx

        cfg = sherpa_onnx.SpeakerEmbeddingExtractorConfig(
            model=str(embedder.model.path), num_threads=threads, provider="cpu")
        self.ext = sherpa_onnx.SpeakerEmbeddingExtractor(cfg)
        self.rate = embedder.sample_rate

    def embed(self, crops: np.ndarray) -> np.ndarray:
        out = []
        for c in crops:
            s = self.ext.create_stream()
            s.accept_waveform(sample_rate=self.rate, waveform=c)
            s.input_finished()
            out.append(self.ext.compute(s))
        return np.asarray(out, dtype=np.float32)


class SpeechBrainLoop:
    """SpeechBrain's EncoderClassifier.encode_batch steps on seedkit's weights."""

    def __init__(self, embedder):
        from speechbrain.lobes.features import Fbank
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
        from speechbrain.processing.features import InputNormalization

        self.compute_features = Fbank(n_mels=80, left_frames=0, right_frames=0, deltas=False)
        self.mean_var_norm = InputNormalization(norm_type="sentence", std_norm=False)
        self.embedding_model = ECAPA_TDNN(80, lin_neurons=192,
                                          channels=[1024, 1024, 1024, 1024, 3072],
                                          kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1],
                                          attention_channels=128).eval()
        self.embedding_model.load_state_dict(embedder.model.state_dict())
        self.device = embedder.device
        self.compute_features.to(self.device)
        self.embedding_model.to(self.device)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            wavs = torch.from_numpy(crops).to(self.device).float()
            lens = torch.ones(wavs.shape[0], device=self.device)
            feats = self.compute_features(wavs)
            feats = self.mean_var_norm(feats, lens)
            return self.embedding_model(feats, lens).squeeze(1).cpu().numpy()


def library_loop(name: str, embedder, threads: int):
    """The library's own inference loop for a ported backbone (None for seedkit's own)."""
    if name == "ONNX":
        return SherpaLoop(embedder, threads)
    if name == "SpeechBrainECAPA":
        return SpeechBrainLoop(embedder)
    return None


def time_library(lib, batches: list[np.ndarray]) -> float:
    """Seconds of the library loop over the same crops (same batches where it batches)."""
    t0 = time.perf_counter()
    for b in batches:
        lib.embed(b)
    return time.perf_counter() - t0


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
    rows, lib_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp), args.utts)
        for name in args.backbones.split(","):
            conf, crop = CONFS[name]
            if name == "ONNX":
                conf = onnx_conf(Path(tmp))
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
            lib = library_loop(name, embedder, args.threads)
            libt: dict[int, list[float]] = {b: [] for b in sizes}
            # CPU seconds of the process (all its threads) per pass: on a shared machine the
            # wall clock mostly measures the other users' load, the CPU time the work done
            cpu: dict[str, dict[int, list[float]]] = {k: {b: [] for b in sizes}
                                                      for k in ("bare", "extract", "library")}
            if lib is not None:  # warm-up, and the same embeddings as seedkit's
                first = batches[sizes[0]][0]
                ref, ours = lib.embed(first), embedder.embed(first)
                lib_diff = float(np.abs(ours - ref).max() / np.abs(ref).max())
            for r in range(args.repeats):  # alternate the order: load drifts over time
                for bs in sizes:  # batch sizes interleaved too, for the same reason
                    ark = f"{tmp}/{name}.ark"
                    for step in (("extract", "bare") if r % 2 else ("bare", "extract")):
                        c0 = time.process_time()
                        if step == "extract":
                            ext[bs].append(run_extract(embedder, data, cfg, mode, ark, bs))
                        else:
                            bare[bs].append(bare_forward(embedder, batches[bs]))
                        cpu[step][bs].append(time.process_time() - c0)
                    loop[bs].append(run_extract(NullEmbedder(embedder), data, cfg, mode, ark, bs))
                    if lib is not None:
                        c0 = time.process_time()
                        libt[bs].append(time_library(lib, batches[bs]))
                        cpu["library"][bs].append(time.process_time() - c0)
            startup = float("nan") if args.no_cli else cli_startup(
                conf, data, Path(tmp) / f"{name}.cli.ark", crop, args.device, args.threads)
            for bs in sizes:
                b, e = min(bare[bs]), min(ext[bs])
                rows.append((name, crop, bs, len(utts), audio, len(utts) / b, b / audio,
                             len(utts) / e, e / audio, 100 * (e / b - 1),
                             100 * min(loop[bs]) / b, startup - e))
                if lib is not None:
                    crops = sum(len(u.crops) for u in utts)
                    lib_rows.append((name, type(lib).__name__, crop, bs, crops, e, b,
                                     min(libt[bs]), lib_diff, min(cpu["extract"][bs]),
                                     min(cpu["bare"][bs]), min(cpu["library"][bs])))
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
    if lib_rows:
        print("\n| backbone | library loop | crop | batch | crops | seedkit-extract s (CPU s) | "
              "seedkit bare s (CPU s) | library s (CPU s) | library / extract | library / "
              "extract, CPU | library / bare, CPU | max rel. diff |")
        print("|" + "---|" * 12)
        for r in lib_rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.2f} ({r[9]:.2f}) | "
                  f"{r[6]:.2f} ({r[10]:.2f}) | {r[7]:.2f} ({r[11]:.2f}) | {r[7] / r[5]:.2f}x | "
                  f"{r[11] / r[9]:.2f}x | {r[11] / r[10]:.2f}x | {r[8]:.1e} |")
        print("library / extract >= 1: seedkit-extract (reading, cropping and writing "
              "included) is at least as fast as the library's own loop on the pre-cut crops; "
              "s = best wall seconds, CPU s = best CPU seconds of the process (all threads; the "
              "stable measure on a loaded machine); max rel. diff: the two embeddings of the "
              "first batch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
