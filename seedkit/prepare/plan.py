"""What a VoxCeleb recipe run will fetch, before it fetches anything (printed before stage 0).

Sizes are the published archives' sizes, rounded; nothing is downloaded or opened here.
"""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["corpus_plan"]


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
