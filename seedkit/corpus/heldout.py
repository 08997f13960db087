"""Held-out eval sets of a mini corpus: voices AND environments that training never sees.

The mini corpus's own eval sets (:mod:`seedkit.corpus.evalsets`) use held-out speakers, noises and
rooms, but their voices come from the training voice space (the same espeak-ng languages and
variants). :func:`make_heldout_sets` adds, next to a finished corpus and without changing it,
sets whose speakers use espeak-ng **languages and voice variants that no training speaker uses**
(languages from :data:`HELDOUT_LANGUAGES`, variants of the corpus's space unused by its training
speakers), corrupted only with the corpus's held-out library (``eval_envs``):

- ``heldout_clean``: clean enrollment and test (as ``eval_clean``);
- ``heldout_mix``: built like VC-Mix (as ``eval_mix``: sessions of one held-out noise + RIR +
  SNR in the corpus's ``mix_snr`` range);
- ``heldout_rev0``: clean enrollment; test = half of each speaker's utterances reverberated with a
  held-out RIR and mixed with held-out noise at 0 dB (the SNR to the reverberant speech);
- ``heldout_snr5``: as ``heldout_rev0`` without the reverb, at 5 dB.

Layout: ``<out>/speech/heldout/<spk>/<utt>.wav``, ``<out>/eval_sets/<set>/`` with ``wav.scp``
(absolute paths: each set is a 16 kHz Kaldi data dir), ``utt2spk``, ``spk2utt``, ``utt2env``,
``utt2clean``, ``trials``; ``<out>/heldout.json`` (the voices, the training voices they avoid, the
counts). Same corpus, seed and sizes give the same bytes. The default mini recipe does not make
them (its time and RESULTS stay as they are); ``seedkit-make-heldout-sets`` (or
``python -m seedkit.bin.make_heldout_sets``) does, for the held-out study
(``docs/heldout_study.md``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import soundfile as sf

from seedkit.corpus.config import CorpusConfig
from seedkit.corpus.evalsets import (
    CLEAN,
    EvalSet,
    Hint,
    design_clean,
    design_mix,
    design_snr,
    trials_hint,
)
from seedkit.corpus.evalsets import env_id as make_env_id
from seedkit.corpus.library import noise_recordings, rir_file_list
from seedkit.corpus.make import _run, _set_summary, _utt_path, _work_eval, _work_utt, _write_set
from seedkit.corpus.voices import Speaker, _installed, espeak_binary
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_dir, c_sorted, write_lines
from seedkit.rng import item_rng

log = logging.getLogger(__name__)

#: espeak-ng language voices (Latin script) outside the mini corpus's default voice space
HELDOUT_LANGUAGES: tuple[str, ...] = (
    "en-us-nyc", "en-gb-x-gbclan", "es-419", "pt-br", "fr-be", "eo", "et", "lv", "lt", "sl", "sq",
    "is", "cy", "eu", "sw", "tr",
)
SETS = ("heldout_clean", "heldout_mix", "heldout_rev0", "heldout_snr5")
HINT = "make the corpus first (seedkit-make-mini-corpus, or stage 0 of egs/mini/seed/run.sh)"


def _read_corpus(corpus: Path) -> dict[str, Any]:
    path = corpus / "corpus.json"
    if not path.is_file():
        raise SeedkitError(f"no corpus.json: not a mini corpus; {HINT}", path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise SeedkitError(f"not valid JSON ({err}); remake the corpus", path) from None


def heldout_speakers(cfg: CorpusConfig, train: list[dict[str, Any]], n: int, seed: int
                     ) -> tuple[list[Speaker], list[str], list[str]]:
    """``n`` speakers whose language and variant no training speaker (``train``: corpus.json
    speaker dicts) uses; returns them and the held-out languages and variants they come from.
    The errors name ``n`` as the parameter ``num_speakers`` of :func:`make_heldout_sets`."""
    used_langs = {s["language"] for s in train}
    used_vars = {s["variant"] for s in train}
    installed = _installed(espeak_binary(), "")
    langs = [x for x in HELDOUT_LANGUAGES if x not in used_langs and x in installed]
    variants = [v for v in cfg.variants if v not in used_vars]
    if not langs or not variants:
        raise SeedkitError(f"no held-out voices: {len(langs)} unused languages and "
                           f"{len(variants)} unused variants; the training set uses "
                           f"{len(used_vars)} of {len(cfg.variants)} variants: remake the "
                           "corpus with variants reserved (seedkit-make-mini-corpus "
                           "--heldout-variants) or fewer training speakers")
    axes = (langs, variants, cfg.pitches, cfg.pitch_ranges, cfg.speeds, cfg.word_gaps)
    size = 1
    for a in axes:
        size *= len(a)
    if n > size:
        raise OptionError(f"{n} held-out speakers asked for but the held-out voice space has "
                          f"{size}; lower ", Param("num_speakers"))
    rng = item_rng(seed, "heldout_speakers")
    out = []
    for i, index in enumerate(rng.permutation(size)[:n].tolist()):
        values = []
        for axis in reversed(axes):
            index, r = divmod(index, len(axis))
            values.append(axis[r])
        lang, var, pitch, prange, speed, gap = reversed(values)
        out.append(Speaker(f"heldout{i + 1:04d}", "heldout", lang, var, int(pitch), int(prange),
                           int(speed), int(gap)))
    return out, langs, variants


def _rev(es: EvalSet, rirs: list[str], rng_seed: int, tag: str) -> EvalSet:
    """``es`` (an SNR set) with every corrupted utterance also reverberated by a held-out RIR,
    keys ``...-<tag>``."""
    rng = item_rng(rng_seed, "heldout_rirs")
    utts, rename = [], {}
    for e in es.utts:
        if e.env == CLEAN:
            utts.append(e)
            continue
        rir = rirs[int(rng.integers(len(rirs)))]
        key = e.utt.rsplit("-", 1)[0] + f"-{tag}"
        rename[e.utt] = key
        utts.append(dataclasses.replace(e, utt=key, rir=rir, env=make_env_id(e.noise, rir)))
    utts.sort(key=lambda e: e.utt.encode())
    trials = [dataclasses.replace(t, test=rename.get(t.test, t.test)) for t in es.trials]
    trials.sort(key=lambda t: (t.enroll.encode(), t.test.encode()))
    return EvalSet(f"heldout_{tag}", utts, trials)


def make_heldout_sets(corpus: PathLike, out_dir: PathLike, num_speakers: int = 30,
                      utts_per_speaker: int = 12, trials_per_set: int = 3000, seed: int = 0,
                      jobs: int = 2, force: bool = False) -> dict[str, Any]:
    """Write the held-out sets of the mini corpus ``corpus`` to ``out_dir`` (see the module
    docstring); returns the ``heldout.json`` summary. Built in a hidden sibling and renamed."""
    corpus, out = Path(corpus).resolve(), Path(os.path.abspath(out_dir))
    info = _read_corpus(corpus)
    cfg = CorpusConfig.from_dict(info["config"])
    cfg = dataclasses.replace(cfg, jobs=jobs, eval_utts_per_speaker=utts_per_speaker,
                              trials_per_set=trials_per_set)
    if num_speakers < 2 or utts_per_speaker < 4:
        raise OptionError(Param("num_speakers"), " must be >= 2 and ",
                          Param("utts_per_speaker"), " >= 4")
    if jobs < 1 or seed < 0 or trials_per_set < 2 or trials_per_set % 2:
        raise OptionError(Param("jobs"), " must be >= 1, ", Param("seed"), " >= 0 and ",
                          Param("trials_per_set"), " an even number >= 2; got "
                          f"{jobs}, {seed}, {trials_per_set}")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OptionError("output directory exists and is not empty; remove it or pass ",
                          Param("force", True), path=out)
    speakers = info["speakers"]
    train = [s for s in speakers if s["subset"] == "train"]
    spks, langs, variants = heldout_speakers(cfg, train, num_speakers, seed)
    babble = [s["spk"] for s in speakers if s["subset"] == "babble"]
    recs = [r for r in noise_recordings(cfg, babble) if r.held_out]
    rirs = [r for r in rir_file_list(cfg) if r.held_out]
    rec_path = {r.rec_id: corpus / r.root / r.relpath for r in recs}
    rir_path = {r.rir_id: corpus / r.root / r.relpath for r in rirs}
    missing = [p for p in list(rec_path.values()) + list(rir_path.values()) if not p.is_file()]
    if missing:
        raise SeedkitError(f"held-out library file missing ({len(missing)} in all); {HINT}",
                           missing[0])
    with atomic_dir(out) as tmp:
        summary = _build(cfg, tmp, out, spks, recs, rirs, rec_path, rir_path, seed,
                         trials_hint("num_speakers", "utts_per_speaker"))
        summary.update({"corpus": str(corpus), "heldout_languages": langs,
                        "heldout_variants": variants,
                        "train_languages": sorted({s["language"] for s in train}),
                        "train_variants": sorted({s["variant"] for s in train})})
        with open(tmp / "heldout.json", "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
            f.write("\n")
    return summary


def _build(cfg: CorpusConfig, root: Path, final: Path, spks: list[Speaker], recs, rirs,
           rec_path: dict[str, Path], rir_path: dict[str, Path], seed: int, hint: Hint
           ) -> dict[str, Any]:
    utt_jobs = [(cfg, str(root), s, f"{s.spk}-{i + 1:04d}") for s in spks
                for i in range(cfg.eval_utts_per_speaker)]
    log.info("synthesising %d utterances of %d held-out voices", len(utt_jobs), len(spks))
    _run(cfg.jobs, _work_utt, utt_jobs, "speech")
    utt_path = {j[3]: _utt_path(root, j[2], j[3]) for j in utt_jobs}
    utt2spk = {j[3]: j[2].spk for j in utt_jobs}
    rec_len = {r.rec_id: sf.info(str(rec_path[r.rec_id])).frames for r in recs}
    noises = [r.rec_id for r in recs if r.category in ("noise", "music")]
    rir_ids = [r.rir_id for r in rirs]
    rng = item_rng(seed, "heldout_sets")
    clean = design_clean(rng, utt2spk, cfg.trials_per_set, hint)
    mix = design_mix(rng, utt2spk, cfg.trials_per_set, cfg.mix_speakers_per_env,
                     cfg.mix_utts_per_speaker_env, noises, rir_ids, cfg.mix_snr, rec_len, hint)
    snr0, snr5 = design_snr(rng, utt2spk, cfg.trials_per_set, (0, 5), noises, rec_len, hint)
    sets = [dataclasses.replace(clean, name="heldout_clean"),
            dataclasses.replace(mix, name="heldout_mix"),
            _rev(snr0, rir_ids, seed, "rev0"),
            dataclasses.replace(snr5, name="heldout_snr5")]
    jobs = [(cfg, str(root), es.name, eu, str(utt_path[eu.clean]), str(rec_path[eu.noise]),
             str(rir_path[eu.rir]) if eu.rir else "")
            for es in sets for eu in es.utts if eu.env != CLEAN]
    log.info("rendering %d corrupted held-out utterances", len(jobs))
    _run(cfg.jobs, _work_eval, jobs, "held-out sets")
    for es in sets:
        envs = None
        if es.name == "heldout_mix":
            envs = {e.env: f"{e.noise} {e.rir} {e.snr:.2f}" for e in es.utts}
        _write_set(root, es, utt_path, envs)
        d, where = root / "eval_sets" / es.name, final / "eval_sets" / es.name / "wav"
        write_lines(d / "wav.scp", (f"{u} {where / f'{u}.wav'}"
                                    for u in c_sorted(e.utt for e in es.utts)))
    return {
        "seed": seed,
        "speakers": [s.to_dict() for s in spks],
        "sets": {es.name: _set_summary(es) for es in sets},
        "noises": sorted(noises),
        "rirs": sorted(rir_ids),
    }


__all__ = ["HELDOUT_LANGUAGES", "SETS", "heldout_speakers", "make_heldout_sets"]
