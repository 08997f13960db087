"""What a VoxCeleb recipe run will fetch, before it fetches anything (printed before stage 0).

Sizes are the published archives' sizes, rounded; nothing is downloaded or opened here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seedkit.errors import PathLike

#: approximate download size (GB) of each corpus as the recipe fetches it
APPROX_DOWNLOAD = {
    "voxceleb1": "~1 GB (vox1_test_wav.zip; the dev part is never read)",
    "musan": "~11 GB",
    "rirs_noises": "~1.2 GB",
    "librilight": "~35 GB (small.tar)",
    "voxconverse_sv": "size not published (the SEED authors' zip)",
}
LIBRITTSR_PART_GB = {"train-clean-100": 8, "train-clean-360": 28}
TRAINING_ONLY = ("musan", "rirs_noises", "librittsr", "librilight")

__all__ = ["corpus_plan", "pair_plan", "PairCost", "pair_cost"]


def _download_size(name: str, librittsr_parts: Sequence[str]) -> str:
    if name == "librittsr":
        gb = sum(LIBRITTSR_PART_GB.get(p, 30) for p in librittsr_parts)
        return f"~{gb} GB ({' '.join(librittsr_parts)})"
    return APPROX_DOWNLOAD.get(name, "size unknown")


def corpus_plan(corpora_dir: PathLike, sources: Sequence[tuple[str, Optional[str]]],
                librittsr_parts: Sequence[str] = ("train-clean-100", "train-clean-360"),
                eval_only: bool = False) -> list[str]:
    """One line per needed corpus ``(name, on-disk source or None)``: complete already (its
    ``.seedkit_<name>.complete`` marker), read from disk, or downloaded (approximate size); and,
    for an evaluation-only run, the corpora it skips."""
    corpora = Path(corpora_dir)
    mode = "evaluation only" if eval_only else "training and evaluation"
    lines = [f"corpora plan ({mode}):"]
    for name, src in sources:
        if (corpora / f".seedkit_{name}.complete").is_file():
            what = f"complete in {corpora} (nothing to fetch)"
        elif src:
            what = f"read from {src} (linked, not downloaded)"
        else:
            what = f"download, {_download_size(name, librittsr_parts)}"
        lines.append(f"  {name}: {what}")
    if eval_only:
        lines.append(f"  skipped: {', '.join(TRAINING_ONLY)} (training only; stages 3 and 5 do "
                     "not run)")
    return lines


#: bytes on disk per training pair in render-on-extract mode: its spec line and its lines in
#: utt2spk, spk2utt, utt2clean, utt2env, utt2dur and wav.scp, in train_aug and train_crops
#: (measured on the mini recipe, K=2, fresh crops: `du -sb data/train_aug data/train_crops` /
#: 6,400 pairs = 405 bytes; rounded up for longer keys and paths)
SPEC_BYTES_PER_PAIR = 600
#: bytes of a RIFF/WAVE header (PCM)
WAV_HEADER = 44


@dataclass(frozen=True)
class PairCost:
    """What stages 3-4 cost for ``num_utts`` clean utterances."""

    pairs: int               # lines of utt2clean (identity pairs included)
    backbone_passes: int     # crops stage 4 embeds
    audio_bytes: int         # wav bytes stage 3 writes (0 unless materialised)
    spec_bytes: int          # data-dir text for the pairs
    embedding_bytes: int     # float32 ark bytes of the embedded crops (D-dim)


def pair_cost(num_utts: int, rounds: int, fresh_crops: bool = True, materialise: bool = False,
              crop_sec: float = 2.015, sample_rate: int = 16000, embed_dim: int = 256,
              sample_bytes: int = 2) -> PairCost:
    """The size of SEED's training pairs: per utterance ``4 K`` crops with a fresh crop per round
    (K clean crops + 3 K copies), ``1 + 3 K`` with one crop per utterance; every crop is one
    backbone pass and one utt2clean line."""
    if num_utts < 0 or rounds < 1:
        raise ValueError(f"num_utts >= 0 and rounds >= 1 needed, got {num_utts}, {rounds}")
    per_utt = 4 * rounds if fresh_crops else 1 + 3 * rounds
    crops = num_utts * per_utt
    crop_samples = int(round(crop_sec * sample_rate))
    audio = crops * (crop_samples * sample_bytes + WAV_HEADER) if materialise else 0
    # a kaldi ark entry: key, space, "\0B", the vector header (\4 + int32 size) and the data
    emb = crops * (embed_dim * 4 + 10 + 32)
    return PairCost(pairs=crops, backbone_passes=crops, audio_bytes=audio,
                    spec_bytes=crops * SPEC_BYTES_PER_PAIR, embedding_bytes=emb)


def _size(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def pair_plan(num_utts: int, rounds: int, fresh_crops: bool = True, materialise: bool = False,
              crop_sec: float = 2.015, sample_rate: int = 16000,
              embed_dim: int = 256) -> list[str]:
    """The lines the VoxCeleb recipe prints before stages 3-4: pairs, backbone passes, disk."""
    c = pair_cost(num_utts, rounds, fresh_crops, materialise, crop_sec, sample_rate, embed_dim)
    crop_how = "a fresh crop per round" if fresh_crops else "one crop per utterance"
    where = (f"wav files {_size(c.audio_bytes)} (--materialise true)" if materialise else
             f"no audio (render-on-extract), pair specs {_size(c.spec_bytes)}")
    return [f"training pairs plan: {num_utts} clean utterances, K={rounds}, {crop_how}:",
            f"  {c.pairs} pairs, {c.backbone_passes} backbone passes of {crop_sec} s in stage 4",
            f"  disk: {where}; embeddings {_size(c.embedding_bytes)} (D={embed_dim})"]
