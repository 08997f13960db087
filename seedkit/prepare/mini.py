"""The mini corpus (``seedkit-make-mini-corpus``) -> lhotse manifests -> Kaldi data dirs.

Reads the layout that ``seedkit-make-mini-corpus`` writes (``docs/corpus.md``)::

    <corpus>/speech/train/<spk>/<utt>.wav                   -> <data>/train
    <corpus>/eval_sets/<set>/wav/<utt>.wav + utt2spk, utt2env, trials
                                                            -> <data>/<set> (+ its utt2* tables)
    <corpus>/musan/{music,noise,speech}/<subset>/*.wav      -> <data>/musan, musan_<category>
    <corpus>/RIRS_NOISES/simulated_rirs/...                 -> <data>/rirs
    <corpus>/eval_envs/{musan,RIRS_NOISES}/...              -> <data>/musan_eval*, rirs_eval

Speech goes through ``Recording.from_file`` + a ``SupervisionSet`` (speaker = the directory name,
or the eval set's ``utt2spk``); MUSAN and RIRS_NOISES through lhotse's own ``prepare_musan`` and
``prepare_rir_noise``, exactly as for the real corpora. Every trial key is checked against its
data dir, and ``utt2env`` must cover the data dir's utterances.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from seedkit.data.datadir import read_utt2x, validate_data_dir
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import c_sorted, write_lines
from seedkit.prepare.common import (
    convert_trials,
    need_dir,
    recordings_from_files,
    save_manifests,
    whole_supervisions,
)
from seedkit.prepare.kaldi import write_lhotse_data_dir
from seedkit.prepare.musan import prepare_musan
from seedkit.prepare.rirs import prepare_rirs

log = logging.getLogger(__name__)

EVAL_SETS = ("eval_clean", "eval_mix", "eval_snr0", "eval_snr5", "eval_snr10", "eval_snr15")
#: per-utterance tables of an eval set copied into its data dir when present
COPIED_TABLES = ("utt2env", "utt2clean")
HINT = "run stage 0 (seedkit-make-mini-corpus <corpus>) first, or give the right directory"


def prepare_speech_dir(speech_dir: PathLike, out_dir: PathLike, manifests: PathLike,
                       name: str) -> int:
    """``<speech_dir>/<spk>/<utt>.wav`` -> a data dir (speaker = directory name)."""
    speech_dir = need_dir(speech_dir, "speech directory", HINT)
    files = sorted(speech_dir.glob("*/*.wav"))
    if not files:
        raise SeedkitError("no <spk>/<utt>.wav files", speech_dir)
    spk_of = {}
    for f in files:
        spk_of[f.stem] = f.parent.name
        if not f.stem.startswith(f.parent.name + "-"):
            log.warning("%s: utterance id does not start with '<speaker>-'", f)
    recs = recordings_from_files((f.stem, f) for f in files)
    save_manifests(manifests, name, "all", recs)
    dd = write_lhotse_data_dir(recs, whole_supervisions(recs, lambda r: spk_of[r.id]), out_dir)
    return len(dd)


def prepare_eval_set(set_dir: PathLike, out_dir: PathLike, manifests: PathLike) -> int:
    """``<set>/wav/<utt>.wav`` + ``utt2spk``/``utt2env``/``trials`` -> a data dir with them."""
    set_dir = need_dir(set_dir, "evaluation set directory", HINT)
    for f in ("utt2spk", "trials"):
        if not (set_dir / f).is_file():
            raise SeedkitError(f"evaluation set has no {f}; {HINT}", set_dir / f)
    utt2spk = read_utt2x(set_dir / "utt2spk")
    files = {f.stem: f for f in sorted((set_dir / "wav").glob("*.wav"))}
    missing = c_sorted(set(utt2spk) - set(files))
    if missing:
        raise SeedkitError(f"{len(missing)} utterances of utt2spk have no wav/<utt>.wav (first "
                           f"{missing[:3]}); the corpus is incomplete: regenerate it",
                           set_dir / "utt2spk")
    extra = c_sorted(set(files) - set(utt2spk))
    if extra:
        raise SeedkitError(f"{len(extra)} wav files are not in utt2spk (first {extra[:3]})",
                           set_dir / "wav")
    recs = recordings_from_files((u, files[u]) for u in c_sorted(utt2spk))
    save_manifests(manifests, set_dir.name, "all", recs)
    dd = write_lhotse_data_dir(recs, whole_supervisions(recs, lambda r: utt2spk[r.id]), out_dir)
    out_dir = Path(out_dir)
    for table in COPIED_TABLES:
        if (set_dir / table).is_file():
            values = read_utt2x(set_dir / table)
            if set(values) != set(utt2spk):
                raise SeedkitError(f"{table} and utt2spk list different utterances",
                                   set_dir / table)
            write_lines(out_dir / table, (f"{u} {values[u]}" for u in c_sorted(values)))
    convert_trials(set_dir / "trials", dd, out_dir / "trials")
    return len(dd)


def prepare_mini_corpus(corpus_dir: PathLike, data_root: PathLike,
                        manifests: Optional[PathLike] = None,
                        eval_sets: Optional[tuple[str, ...]] = None) -> list[str]:
    """Write every data dir of the mini corpus under ``data_root``; returns their names.

    ``eval_sets`` defaults to every ``<corpus>/eval_sets/*`` directory.
    """
    corpus = need_dir(corpus_dir, "mini corpus directory", HINT)
    data_root = Path(data_root)
    manifests = Path(manifests) if manifests else data_root / "manifests"
    need_dir(corpus / "speech" / "train", "speech/train directory", HINT)
    need_dir(corpus / "musan", "musan directory", HINT)
    need_dir(corpus / "RIRS_NOISES", "RIRS_NOISES directory", HINT)
    written = []
    n = prepare_speech_dir(corpus / "speech" / "train", data_root / "train", manifests, "train")
    log.info("train: %d utterances", n)
    written.append("train")
    if eval_sets is None:
        root = corpus / "eval_sets"
        eval_sets = tuple(sorted(p.name for p in root.iterdir() if p.is_dir())) \
            if root.is_dir() else ()
    for name in eval_sets:
        n = prepare_eval_set(corpus / "eval_sets" / name, data_root / name, manifests)
        log.info("%s: %d utterances", name, n)
        written.append(name)
    written += prepare_musan(corpus / "musan", data_root, name="musan", manifests=manifests,
                             force=True)
    written += prepare_rirs(corpus / "RIRS_NOISES", data_root, name="rirs", manifests=manifests,
                            force=True)
    envs = corpus / "eval_envs"
    if (envs / "musan").is_dir():
        written += prepare_musan(envs / "musan", data_root, name="musan_eval",
                                 manifests=manifests, force=True)
    if (envs / "RIRS_NOISES").is_dir():
        written += prepare_rirs(envs / "RIRS_NOISES", data_root, name="rirs_eval",
                                manifests=manifests, force=True)
    for name in written:
        validate_data_dir(data_root / name)
    return written


__all__ = ["EVAL_SETS", "prepare_eval_set", "prepare_mini_corpus", "prepare_speech_dir"]
