"""Reading in place against the 16 kHz copies, on the real-layout fixtures: the resampler's SNR
against ffmpeg's on every LibriTTS-R file (whole files, and 200 samples off each end), and the
cosine similarity of the embeddings of the two modes (the tiny random-weight ResNet of the tests,
full utterances). The numbers behind the tolerances of tests/prepare/test_resample_inplace.py.

    .venv/bin/python benchmarks/inplace_check.py [--seeds 0 3 7]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from seedkit.corpus.real_layout import write_all
from seedkit.embio import read_embeddings
from seedkit.extract import extract_data_dir
from seedkit.inplace import InPlaceFile
from seedkit.prepare.librittsr import prepare_librittsr
from seedkit.resample import resample_data_dir

TINY = (Path(__file__).resolve().parent.parent / "egs" / "voxceleb" / "seed" / "conf"
        / "test_tiny_resnet.yaml")
EDGE = 200


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - x) ** 2)))


def ffmpeg_16k(path: Path) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-ac", "1",
                          "-ar", "16000", "-acodec", "pcm_f32le", "-f", "wav", "pipe:1"],
                         check=True, capture_output=True).stdout
    return sf.read(io.BytesIO(out), dtype="float32")[0]


def embeddings(data: Path, work: Path) -> dict[str, np.ndarray]:
    ark, scp = work / f"{data.name}.ark", work / f"{data.name}.scp"
    extract_data_dir(data, f"ark,scp:{ark},{scp}", TINY, allow_random_weights=True, device="cpu",
                     crop="full", progress=False)
    return read_embeddings(f"scp:{scp}")


def check(seed: int, work: Path) -> tuple[list[float], list[float], list[float]]:
    write_all(work / "corpora", seed=seed)
    whole, inner = [], []
    for f in sorted((work / "corpora" / "LibriTTS_R").rglob("*.wav")):
        ref, ours = ffmpeg_16k(f), InPlaceFile(str(f), 16000).read()
        whole.append(snr_db(ref, ours))
        inner.append(snr_db(ref[EDGE:-EDGE], ours[EDGE:-EDGE]))
    prepare_librittsr(work / "corpora" / "LibriTTS_R", work / "local", parts=("train-clean-100",))
    emb = {}
    for mode in ("inplace", "copies"):
        dest = work / mode / "tts"
        resample_data_dir(work / "local" / "librittsr_train_clean_100", dest,
                          work / mode / "audio", in_place=mode == "inplace", source_rate=24000)
        emb[mode] = embeddings(dest, work / mode)
    cos = [float(np.dot(a, emb["copies"][k]) / np.linalg.norm(a)
                 / np.linalg.norm(emb["copies"][k])) for k, a in emb["inplace"].items()]
    return whole, inner, cos


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 3, 7])
    args = p.parse_args()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            whole, inner, cos = check(seed, Path(tmp))
        print(f"seed {seed}: {len(whole)} LibriTTS-R files; SNR vs ffmpeg whole min "
              f"{min(whole):.1f} median {np.median(whole):.1f} dB, {EDGE} samples off the ends "
              f"min {min(inner):.1f} median {np.median(inner):.1f} dB; embeddings in place vs "
              f"copies ({len(cos)} utterances) cosine min {min(cos):.6f} median "
              f"{np.median(cos):.6f}")


if __name__ == "__main__":
    main()
