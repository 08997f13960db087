"""RIRS_NOISES -> ``rirs`` (simulated RIRs ``small-Room001-00001``, speaker = room size) and, if
asked, ``rirs_real``, ``noise_isotropic``, ``noise_pointsource``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from lhotse.recipes.rir_noise import PARTS
from lhotse.recipes.rir_noise import prepare_rir_noise as lhotse_prepare

from seedkit.errors import PathLike, SeedkitError
from seedkit.prepare.common import (
    mark_prepared,
    need_dir,
    prepared_dirs,
    run_lhotse,
    save_manifests,
    whole_supervisions,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir

RIR_PARTS = {"sim_rir": "rirs", "real_rir": "rirs_real", "iso_noise": "noise_isotropic",
             "point_noise": "noise_pointsource"}


def prepare_rirs(corpus_dir: PathLike, data_root: PathLike, parts: tuple[str, ...] = ("sim_rir",),
                 name: str = "rirs", manifests: Optional[PathLike] = None,
                 force: bool = False) -> list[str]:
    """RIRS_NOISES (``<corpus_dir>`` = ``RIRS_NOISES``) -> ``<name>`` (simulated RIRs, speaker =
    room size) and, if asked, ``<name>_real``, ``noise_isotropic``, ``noise_pointsource``."""
    corpus_dir = need_dir(corpus_dir, "RIRS_NOISES directory",
                          "download it (seedkit-download-corpus rirs_noises) or pass its path")
    data_root = Path(data_root)
    stamp = name if name != "rirs" else "rirs_noises"
    if (dirs := prepared_dirs(data_root, stamp, force)) is not None:
        return dirs
    for part in parts:
        if part not in PARTS:
            raise SeedkitError(f"unknown RIRS_NOISES part {part!r}; use {sorted(PARTS)}")
        need_dir(corpus_dir / PARTS[part], f"RIRS_NOISES/{PARTS[part]}",
                 "the layout is RIRS_NOISES/simulated_rirs/{small,medium,large}room/RoomNNN/*.wav")
    if "sim_rir" in parts and not any((corpus_dir / "simulated_rirs").rglob("*.wav")):
        raise SeedkitError("no simulated RIR .wav files", corpus_dir / "simulated_rirs")
    m = run_lhotse("prepare_rir_noise", corpus_dir, "*.wav", lhotse_prepare, corpus_dir,
                   output_dir=None, parts=parts)
    written = []
    for part in parts:
        recs = m[part]["recordings"]
        if len(recs) == 0:
            raise SeedkitError(f"RIRS_NOISES part {part} has no files lhotse accepts",
                               corpus_dir / PARTS[part])
        save_manifests(manifests or data_root / "manifests",
                       name, part.replace("_", "-"), recs)
        out = name if part == "sim_rir" else (
            f"{name}_real" if part == "real_rir" else RIR_PARTS[part])
        spk = (lambda r: r.id.split("-")[0]) if part == "sim_rir" else (lambda r: r.id)
        write_lhotse_data_dir(recs, whole_supervisions(recs, spk), data_root / out)
        written.append(out)
    mark_prepared(data_root, stamp, written)
    return written


__all__ = ["RIR_PARTS", "prepare_rirs"]
