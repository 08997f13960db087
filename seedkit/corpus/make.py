"""``make_mini_corpus``: speakers, environment library, held-out library and eval sets on disk.

Layout (the contract with the corpus preparation code)::

    <corpus>/speech/{train,eval,babble}/<spk>/<utt>.wav
    <corpus>/musan/{music,noise,speech}/<subset>/*.wav           (+ music/<subset>/ANNOTATIONS)
    <corpus>/RIRS_NOISES/simulated_rirs/{small,medium,large}room/RoomNNN/RoomNNN-NNNNN.wav
                                                                (+ <room type>/rir_list)
    <corpus>/eval_envs/{musan,RIRS_NOISES}/...                  held-out library, same layouts
    <corpus>/eval_sets/<set>/wav/<utt>.wav + utt2spk spk2utt utt2env utt2clean trials
    <corpus>/corpus.json

The corpus is built in a hidden sibling directory and renamed into place when complete. Work
runs in a process pool over items; every item draws from its own seeded generator
(:func:`seedkit.rng.item_rng`), so the bytes do not depend on ``jobs`` or scheduling.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np
import soundfile as sf
from tqdm import tqdm

from seedkit.audio import write_wav
from seedkit.corpus import environments as envs
from seedkit.corpus.config import ROOM_TYPES, CorpusConfig
from seedkit.corpus.evalsets import (
    CLEAN,
    EvalSet,
    EvalUtt,
    design_clean,
    design_mix,
    design_snr,
)
from seedkit.corpus.library import (
    EnvRecording,
    RirFile,
    music_annotation,
    noise_recordings,
    rir_file_list,
    rir_list_line,
)
from seedkit.corpus.rir import Room, draw_room, synth_rir
from seedkit.corpus.signal import loop_to_length, normalise_level, reverberate, scale_noise
from seedkit.corpus.voices import (
    SAMPLE_RATE,
    Speaker,
    check_voice_space,
    draw_speakers,
    synthesize_utterance,
)
from seedkit.data.trials import write_trials
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_dir, c_sorted, write_lines
from seedkit.rng import item_rng

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


# ---------------------------------------------------------------- workers (top level: picklable)

@lru_cache(maxsize=64)
def _read(path: str) -> np.ndarray:
    x, rate = sf.read(path, dtype="float64")
    if rate != SAMPLE_RATE:
        raise SeedkitError(f"expected {SAMPLE_RATE} Hz", path)
    return x


def _utt_path(root: Path, spk: Speaker, utt: str) -> Path:
    return root / "speech" / spk.subset / spk.spk / f"{utt}.wav"


def _work_utt(job: tuple[CorpusConfig, str, Speaker, str]) -> int:
    cfg, root, spk, utt = job
    y = synthesize_utterance(cfg, spk, utt)
    write_wav(_utt_path(Path(root), spk, utt), y, SAMPLE_RATE)
    return int(y.size)


def _work_env(job: tuple[CorpusConfig, str, EnvRecording, list[str]]) -> int:
    """Synthesise one MUSAN-layout recording. ``sources`` are the wav files it is made from
    (a speaker's utterances for speech, talker recordings for babble)."""
    cfg, root, rec, sources = job
    rng = item_rng(cfg.seed, "env", rec.rec_id)
    n = int(rng.uniform(*cfg.noise_dur) * SAMPLE_RATE)
    if rec.category == "speech":
        gap = np.zeros(int(0.3 * SAMPLE_RATE))
        x = np.concatenate([p for s in sources for p in (_read(s), gap)])
    elif rec.subset == "babble":
        lo, hi = cfg.babble_talkers
        k = int(rng.integers(lo, hi + 1))
        pick = rng.choice(len(sources), size=k, replace=False)
        x = envs.babble(rng, n, [_read(sources[i]) for i in sorted(pick.tolist())])
    elif rec.subset == "stationary":
        x = envs.stationary(rng, n, SAMPLE_RATE, rec.detail)
    elif rec.subset == "nonstationary":
        x = envs.nonstationary(rng, n, SAMPLE_RATE, rec.detail)
    else:
        x = envs.music(rng, n, SAMPLE_RATE, rec.subset)
    y = normalise_level(x, cfg.level_dbfs)
    write_wav(Path(root) / rec.root / rec.relpath, y, SAMPLE_RATE)
    return int(y.size)


def _work_rir(job: tuple[CorpusConfig, str, RirFile, Room]) -> int:
    cfg, root, rir, room = job
    h = synth_rir(item_rng(cfg.seed, "rir", rir.rir_id), room, SAMPLE_RATE)
    write_wav(Path(root) / rir.root / rir.relpath, h, SAMPLE_RATE)
    return int(h.size)


def _work_eval(job: tuple[CorpusConfig, str, str, EvalUtt, str, str, str]) -> int:
    """Render one corrupted eval utterance: reverberate (optional), add noise at its SNR,
    normalise the mixture to the speech level."""
    cfg, root, set_name, eu, clean_path, noise_path, rir_path = job
    x = _read(clean_path)
    if rir_path:
        x = reverberate(x, _read(rir_path))
    noise = loop_to_length(_read(noise_path), x.size, eu.offset)
    y = normalise_level(x + scale_noise(x, noise, eu.snr), cfg.level_dbfs)
    write_wav(Path(root) / "eval_sets" / set_name / "wav" / f"{eu.utt}.wav", y, SAMPLE_RATE)
    return int(y.size)


def _run(jobs: int, func: Callable[[Any], int], items: Sequence[Any], what: str) -> list[int]:
    """``func`` over ``items`` in a process pool of ``jobs`` (inline when 1), results in order."""
    bar = dict(desc=what, total=len(items), leave=False, disable=None, mininterval=1.0)
    if jobs <= 1 or len(items) <= 1:
        return [func(it) for it in tqdm(items, **bar)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        chunk = max(1, len(items) // (jobs * 8))
        return list(tqdm(pool.map(func, items, chunksize=chunk), **bar))


# ---------------------------------------------------------------- the corpus

def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write_set(root: Path, es: EvalSet, clean_paths: dict[str, Path],
               env_info: Optional[dict[str, str]] = None) -> None:
    d = root / "eval_sets" / es.name
    for eu in es.utts:
        if eu.env == CLEAN:
            _link_or_copy(clean_paths[eu.clean], d / "wav" / f"{eu.utt}.wav")
    utt2spk = {e.utt: e.spk for e in es.utts}
    write_lines(d / "utt2spk", (f"{u} {utt2spk[u]}" for u in c_sorted(utt2spk)))
    spk2utt: dict[str, list[str]] = {}
    for u in c_sorted(utt2spk):
        spk2utt.setdefault(utt2spk[u], []).append(u)
    write_lines(d / "spk2utt", (f"{s} {' '.join(us)}" for s, us in sorted(spk2utt.items())))
    write_lines(d / "utt2env", (f"{e.utt} {e.env}" for e in es.utts))
    write_lines(d / "utt2clean", (f"{e.utt} {e.clean}" for e in es.utts))
    write_trials(d / "trials", es.trials)
    if env_info:
        write_lines(d / "envs", (f"{k} {env_info[k]}" for k in c_sorted(env_info)))


def _set_summary(es: EvalSet) -> dict[str, int]:
    n_t = sum(t.target for t in es.trials)
    return {"utts": len(es.utts), "trials": len(es.trials), "target": n_t,
            "nontarget": len(es.trials) - n_t,
            "corrupted": sum(e.env != CLEAN for e in es.utts)}


def make_mini_corpus(out_dir: PathLike, config: Optional[CorpusConfig] = None,
                     force: bool = False) -> dict[str, Any]:
    """Write the synthetic mini corpus to ``out_dir``; return the ``corpus.json`` summary.

    Raises :class:`SeedkitError` for a bad config, a missing espeak-ng, or an existing non-empty
    ``out_dir`` (unless ``force``, which replaces it once the new corpus is complete).
    """
    cfg = config or CorpusConfig()
    cfg.validate()
    check_voice_space(cfg)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SeedkitError("output exists and is not a directory; choose another path", out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OptionError("output directory exists and is not empty; remove it or pass ",
                          Param("force", True), path=out)
    with atomic_dir(out) as tmp:
        return _build(cfg, tmp)


def _build(cfg: CorpusConfig, root: Path) -> dict[str, Any]:
    jobs = cfg.jobs
    speakers = draw_speakers(cfg)
    # 1. speech
    utt_jobs = []
    counts = {"train": cfg.train_utts_per_speaker, "eval": cfg.eval_utts_per_speaker,
              "babble": cfg.babble_utts_per_speaker}
    for subset in ("train", "eval", "babble"):
        for spk in speakers[subset]:
            for i in range(counts[subset]):
                utt_jobs.append((cfg, str(root), spk, f"{spk.spk}-{i + 1:04d}"))
    log.info("synthesising %d utterances of %d speakers", len(utt_jobs), cfg.num_speakers)
    lengths = _run(jobs, _work_utt, utt_jobs, "speech")
    utt_len = {j[3]: n for j, n in zip(utt_jobs, lengths)}
    utt_path = {j[3]: _utt_path(root, j[2], j[3]) for j in utt_jobs}
    spk_utts: dict[str, list[str]] = {}
    for j in utt_jobs:
        spk_utts.setdefault(j[2].spk, []).append(j[3])

    # 2. environment libraries: speech, noises, music, RIRs; then babble from the speech
    babble_spks = [s.spk for s in speakers["babble"]]
    recs = noise_recordings(cfg, babble_spks)
    rec_path = {r.rec_id: root / r.root / r.relpath for r in recs}
    first = [r for r in recs if r.subset != "babble"]
    env_jobs = [(cfg, str(root), r, [str(utt_path[u]) for u in spk_utts[r.detail]]
                 if r.category == "speech" else []) for r in first]
    rirs = rir_file_list(cfg)
    rooms = {rid: draw_room(item_rng(cfg.seed, "room", rid), rt)
             for rid, rt in sorted({(r.room_id, r.room_type) for r in rirs})}
    rir_jobs = [(cfg, str(root), r, rooms[r.room_id]) for r in rirs]
    log.info("synthesising %d noise/music/speech recordings and %d RIRs", len(first), len(rirs))
    rec_len = dict(zip([r.rec_id for r in first], _run(jobs, _work_env, env_jobs, "library")))
    _run(jobs, _work_rir, rir_jobs, "rirs")
    talkers = {held: [str(rec_path[r.rec_id]) for r in recs
                      if r.category == "speech" and r.held_out == held] for held in (False, True)}
    bab = [r for r in recs if r.subset == "babble"]
    bab_jobs = [(cfg, str(root), r, talkers[r.held_out]) for r in bab]
    rec_len.update(zip([r.rec_id for r in bab], _run(jobs, _work_env, bab_jobs, "babble")))
    _write_lists(root, recs, rirs)

    # 3. eval sets
    eval_utt2spk = {u: s.spk for s in speakers["eval"] for u in spk_utts[s.spk]}
    rng = item_rng(cfg.seed, "eval_sets")
    held_noise = [r.rec_id for r in recs if r.held_out and r.category in ("noise", "music")]
    held_rirs = [r.rir_id for r in rirs if r.held_out]
    rir_path = {r.rir_id: root / r.root / r.relpath for r in rirs}
    sets = [design_clean(rng, eval_utt2spk, cfg.trials_per_set)]
    sets.append(design_mix(rng, eval_utt2spk, cfg.trials_per_set, cfg.mix_speakers_per_env,
                           cfg.mix_utts_per_speaker_env, held_noise, held_rirs, cfg.mix_snr,
                           rec_len))
    sets += design_snr(rng, eval_utt2spk, cfg.trials_per_set, cfg.snrs, held_noise, rec_len)
    ev_jobs = [(cfg, str(root), es.name, eu, str(utt_path[eu.clean]), str(rec_path[eu.noise]),
                str(rir_path[eu.rir]) if eu.rir else "")
               for es in sets for eu in es.utts if eu.env != CLEAN]
    log.info("rendering %d corrupted eval utterances", len(ev_jobs))
    _run(jobs, _work_eval, ev_jobs, "eval sets")
    for es in sets:
        info = None
        if es.name == "eval_mix":
            info = {e.env: f"{e.noise} {e.rir} {e.snr:.2f}" for e in es.utts}
        _write_set(root, es, utt_path, info)

    # 4. corpus.json
    summary = {
        "format_version": FORMAT_VERSION,
        "seed": cfg.seed,
        "sample_rate": SAMPLE_RATE,
        "config": {k: v for k, v in cfg.to_dict().items() if k != "jobs"},
        "counts": {
            "speakers": {k: len(v) for k, v in speakers.items()},
            "utterances": {k: sum(len(spk_utts[s.spk]) for s in v) for k, v in speakers.items()},
            "hours": {k: round(sum(utt_len[u] for s in v for u in spk_utts[s.spk])
                               / SAMPLE_RATE / 3600, 4) for k, v in speakers.items()},
            "train_env_recordings": sum(not r.held_out for r in recs),
            "eval_env_recordings": sum(r.held_out for r in recs),
            "train_rirs": sum(not r.held_out for r in rirs),
            "eval_rirs": sum(r.held_out for r in rirs),
        },
        "eval_sets": {es.name: _set_summary(es) for es in sets},
        "speakers": [s.to_dict() for v in speakers.values() for s in v],
        "rooms": {rid: room.to_dict() for rid, room in rooms.items()},
        "env_recordings": [{"id": r.rec_id, "path": str(Path(r.root) / r.relpath),
                            "kind": r.detail, "held_out": r.held_out} for r in recs],
    }
    with open(root / "corpus.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    return summary


def _write_lists(root: Path, recs: Iterable[EnvRecording], rirs: Iterable[RirFile]) -> None:
    """MUSAN music ``ANNOTATIONS`` and RIRS_NOISES ``rir_list`` files for both libraries."""
    music: dict[tuple[str, str], list[str]] = {}
    for r in recs:
        if r.category == "music":
            music.setdefault((r.root, r.subset), []).append(music_annotation(r))
    for (base, subset), lines in music.items():
        write_lines(root / base / "musan" / "music" / subset / "ANNOTATIONS", lines)
    lists: dict[tuple[str, str], list[str]] = {}
    for r in rirs:
        lists.setdefault((r.root, r.room_type), []).append(rir_list_line(r))
    for base in (".", "eval_envs"):
        for room_type in ROOM_TYPES:
            lines = lists.get((base, room_type))
            if lines:
                write_lines(root / base / "RIRS_NOISES" / "simulated_rirs" / room_type
                            / "rir_list", lines)
