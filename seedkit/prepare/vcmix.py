"""VC-Mix, the SEED paper's mixed test list (``docs/method.md`` §9), from the prepared
``voxceleb1_test`` and ``voxconverse_sv`` data dirs.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

from seedkit.data.datadir import DataDir, subset_data_dir, validate_data_dir, write_data_dir
from seedkit.data.trials import read_trials, write_trials
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import c_sorted
from seedkit.prepare.common import check_trial_keys

log = logging.getLogger(__name__)


def make_vcmix(vox1_dir: PathLike, vc_dir: PathLike, out_dir: PathLike) -> dict[str, int]:
    """VC-Mix (``docs/method.md`` §9): every non-target trial of VoxConverse-SV
    (``<vc_dir>/trials``) followed by every target trial of VoxCeleb1-O
    (``<vox1_dir>/trials``), with a data dir holding exactly the utterances they use."""
    vox = validate_data_dir(vox1_dir, check_files=False, check_spk_sort=False)
    vc = validate_data_dir(vc_dir, check_files=False, check_spk_sort=False)
    vox_t = read_trials(Path(vox1_dir) / "trials")
    vc_t = read_trials(Path(vc_dir) / "trials")
    check_trial_keys(vox_t, vox, Path(vox1_dir) / "trials")  # as documented: every key checked
    check_trial_keys(vc_t, vc, Path(vc_dir) / "trials")
    trials = [t for t in vc_t if not t.target] + [t for t in vox_t if t.target]
    if not any(not t.target for t in trials) or not any(t.target for t in trials):
        raise SeedkitError("VC-Mix needs non-target trials from VoxConverse-SV and target trials "
                           "from VoxCeleb1-O; one of the lists has none", Path(vc_dir) / "trials")
    clash = set(vox.utt2spk) & set(vc.utt2spk)
    if clash:
        raise SeedkitError(f"{len(clash)} keys are in both data dirs (first "
                           f"{c_sorted(clash)[:3]}); cannot merge", vc_dir)
    need_vc = {k for t in vc_t if not t.target for k in (t.enroll, t.test)}
    need_vox = {k for t in vox_t if t.target for k in (t.enroll, t.test)}
    a, b = subset_data_dir(vox, need_vox), subset_data_dir(vc, need_vc)
    merged = DataDir()
    for field in ("wav_scp", "utt2spk"):
        both = {**getattr(a, field), **getattr(b, field)}
        setattr(merged, field, OrderedDict((k, both[k]) for k in c_sorted(both)))
    if a.utt2dur is not None and b.utt2dur is not None:
        both = {**a.utt2dur, **b.utt2dur}
        merged.utt2dur = OrderedDict((k, both[k]) for k in c_sorted(both))
    write_data_dir(merged, out_dir)
    write_trials(Path(out_dir) / "trials", trials)
    counts = {"nontarget": sum(not t.target for t in trials),
              "target": sum(t.target for t in trials), "utterances": len(merged.utt2spk)}
    log.info("vcmix: %(nontarget)d non-target + %(target)d target trials, %(utterances)d "
             "utterances", counts)
    return counts


__all__ = ["make_vcmix"]
