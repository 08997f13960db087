"""SEED's training pairs: K rounds per clean utterance of a seeded crop and its corrupted copies.

Round ``k`` of utterance ``u`` (docs/method.md §5) is drawn by :class:`PairPlanner` from its
own generator seeded by ``(seed, u, k)`` (:func:`round_rng`), so round k is the same whatever K,
whatever the job split:

1. **crop**: ``crop_sec`` (2.015 s = 32,240 samples at 16 kHz) starting at
   ``int(v * (n - L))``; an utterance of ``n <= L`` samples is wrap-padded to ``L + 1`` and
   cropped from 0 (what SEED's loader does). ``fresh_crops`` (default): every round its own crop,
   key ``<u>-clean<k>``; otherwise every round uses round 1's crop, key ``<u>`` (one crop per
   utterance, seedkit's behaviour before render-on-extract);
2. three copies of that round's crop:

   - ``<u>-music<k>``: one MUSAN music recording, a random L-sample segment (wrap-padded when
     short), SNR ~ U[5, 15] dB;
   - ``<u>-noise<k>``: one MUSAN noise recording likewise, SNR ~ U[0, 15] dB;
   - ``<u>-reverb<k>``: one RIR, normalised to unit energy ``h / sqrt(sum(h^2))``, then
     ``scipy.signal.convolve(x, h, "full")[:L]`` (no delay compensation);

   mixing as SEED: ``clean_dB = 10 log10(mean(x^2) + 1e-4)``, likewise ``noise_dB``, noise scaled
   by ``sqrt(10^((clean_dB - noise_dB - snr) / 10))`` and added.

Each waveform is a :class:`RenderEntry` (a line of ``render.spec``: key, clean utterance, crop
start and length, kind, source key, source offset, SNR); :class:`Renderer` turns an entry into
float32 samples with the math above, the one code path for wav files, extraction and on-the-fly
training.

MUSAN is read from a data dir of the raw MUSAN files whose ``utt2spk`` value is the category
(``music``/``noise``/``speech``), as ``seedkit-prepare-corpus musan`` writes it: segments are cut
at random offsets here, so no pre-split ("musan_split") copy is needed.

Outputs of :func:`augment_data_dir`:

- ``<out-clean>``: the clean crops; ``<out-aug>``: SEED's multi-pair set, every clean crop itself
  (same key as in ``<out-clean>``) and its copies; ``utt2clean`` maps each to its round's clean
  key, the identity lines included, so it is the ``--pairs`` file of ``seedkit-train-seed``;
  ``utt2env`` names what was applied (``clean``, ``music:<musan-key>``, ``noise:<musan-key>``,
  ``reverb:<rir-key>``). Both dirs hold ``render.spec`` (their entries, C-sorted) and
  ``render.sources`` (the absolute clean/MUSAN/RIR data dirs and the rate).
- spec mode (default, ``materialise=False``): no audio; ``wav.scp`` lines are
  ``<key> seedkit-render-wav <dir>/render.spec <key> |``, which seedkit's audio reader renders in
  process (:func:`render_key`) and any other tool runs as a pipe.
- ``materialise=True``: every waveform is a wav (``wav/<xx>/<key>.wav``) named in ``wav.scp``, and
  ``augment.info`` lists every copy with its source, offset and SNR. 16-bit output is scaled down
  (whole crop, SNR unchanged) only if it would clip; ``subtype="FLOAT"`` keeps the rendered float32
  samples exactly.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
from tqdm import tqdm

from seedkit.augment_policy import RELEASE, AugmentPolicy, PairType
from seedkit.crops import crop_samples, crop_start
from seedkit.data.datadir import DataDir, spk2utt_from_utt2spk, write_data_dir
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_output, c_sorted, write_lines
from seedkit.render import Inputs, Renderer
from seedkit.render_spec import MULTI_KINDS, SOURCES_NAME, SPEC_NAME, RenderEntry, render_pipe
from seedkit.resample import job_keys, output_path
from seedkit.rng import round_rng

log = logging.getLogger(__name__)


class PairPlanner:
    """Draws the training pairs: :meth:`plan` gives round ``k`` of an utterance."""

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 crop_sec: float = 2.015, seed: int = 0, sample_rate: int = 16000,
                 fresh_crops: bool = True, *, inputs: Optional[Inputs] = None,
                 policy: AugmentPolicy = RELEASE):
        self.inputs = inputs or Inputs(clean_dir, musan_dir, rirs_dir, sample_rate)
        self.seed, self.fresh_crops = int(seed), bool(fresh_crops)
        self.length = crop_samples(crop_sec, self.inputs.rate)
        #: the pair types of every round, in draw order (:mod:`seedkit.augment_policy`)
        self.policy = policy
        self._pools = {t.name: self._pool(t) for t in policy.types}
        #: the clean utterance keys, C-sorted
        self.utterances: list[str] = c_sorted(self.inputs.clean.utt2spk)
        #: speaker of each clean utterance
        self.utt2spk: dict[str, str] = dict(self.inputs.clean.utt2spk)

    def renderer(self) -> Renderer:
        """A :class:`Renderer` sharing this planner's audio tables."""
        return Renderer("", "", "", inputs=self.inputs)

    def _pool(self, t: PairType) -> list[str]:
        """The MUSAN keys type ``t`` draws from (its categories' keys, pooled in listed order);
        a used category with no recordings, or too few speech recordings for a babble, is an
        error naming the policy file."""
        cats = self.inputs.categories
        keys: list[str] = []
        for cat in t.musan_sources:
            if not cats.get(cat):
                raise SeedkitError(f"pair type {t.name!r} draws from MUSAN {cat} but the MUSAN "
                                   f"data dir {self.inputs.dirs[1]} has no {cat} recordings "
                                   f"(utt2spk value '{cat}'); prepare them, or drop {cat} from "
                                   "the type's sources", self.policy.path)
            keys += cats[cat]
        if t.speakers is not None and len(keys) < t.speakers[1]:
            raise SeedkitError(f"pair type {t.name!r} sums up to {t.speakers[1]} speech "
                               f"recordings but the MUSAN data dir has {len(keys)}; lower "
                               "'speakers'", self.policy.path)
        return keys

    def _copy(self, t: PairType, rng: np.random.Generator, utt: str, k: int, start: int
              ) -> RenderEntry:
        """Type ``t``'s copy of the crop at ``start``, drawn from ``rng`` in a fixed order:
        additive: recording, offset, SNR; reverb: RIR; reverb+additive: RIR, then as additive;
        babble: talker count, talkers, their offsets, SNR."""
        inp, L = self.inputs, self.length
        key, keys = f"{utt}-{t.name}{k}", self._pools[t.name]
        rir = None
        if t.kind in ("reverb", "reverb+additive"):
            rir = inp.rir_keys[int(rng.integers(len(inp.rir_keys)))]
            if t.kind == "reverb":
                return RenderEntry(key, utt, start, L, "reverb", rir)
        if t.kind == "babble":
            assert t.speakers is not None and t.snr is not None
            n = int(rng.integers(t.speakers[0], t.speakers[1] + 1))
            picks = [keys[i] for i in rng.choice(len(keys), size=n, replace=False).tolist()]
            offs = tuple(crop_start(inp.musan.length(s), L, float(rng.random())) for s in picks)
            snr = float(rng.uniform(*t.snr))
            return RenderEntry(key, utt, start, L, "babble", ",".join(picks), 0, snr,
                               tuple(picks), offs)
        assert t.snr is not None
        src = keys[int(rng.integers(len(keys)))]
        off = crop_start(inp.musan.length(src), L, float(rng.random()))
        snr = float(rng.uniform(*t.snr))
        cat = inp.categories_of(src)
        if rir is None:
            return RenderEntry(key, utt, start, L, cat, src, off, snr)
        return RenderEntry(key, utt, start, L, f"reverb+{cat}", f"{rir},{src}", 0, snr,
                           (rir, src), (0, off))

    def clean_key(self, utt: str, k: int) -> str:
        """The key of round ``k``'s clean crop: ``<utt>-clean<k>``, or ``<utt>`` (one crop)."""
        return f"{utt}-clean{k}" if self.fresh_crops else utt

    def plan(self, utt: str, k: int) -> list[RenderEntry]:
        """Round ``k`` (>= 1) of ``utt``: its clean crop, then one copy of it per type of the
        policy, drawn from :func:`round_rng` ``(seed, utt, k)`` in a fixed order (crop position,
        then each type's draws in policy order; the release's: music recording, offset, SNR,
        noise recording, offset, SNR, RIR)."""
        if k < 1:
            raise SeedkitError(f"round must be >= 1, got {k}")
        if utt not in self.utt2spk:
            raise SeedkitError(f"utterance {utt!r} is not in the clean data dir",
                               self.inputs.dirs[0] / "utt2spk")
        inp, L = self.inputs, self.length
        rng = round_rng(self.seed, utt, k)
        u = float(rng.random())
        if not self.fresh_crops and k != 1:
            u = float(round_rng(self.seed, utt, 1).random())
        start = crop_start(inp.src.length(utt), L, u)
        out = [RenderEntry(self.clean_key(utt, k), utt, start, L, "clean")]
        out += [self._copy(t, rng, utt, k, start) for t in self.policy.types]
        return out


# ----------------------------------------------------------------------------- writing

def write_audio(path: Path, x: np.ndarray, rate: int, subtype: str) -> float:
    """Write ``x`` atomically; 16-bit output is scaled down if it would clip. Returns the gain."""
    gain = 1.0
    if subtype == "PCM_16":
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 32767 / 32768:
            gain = 0.999 / peak
    with atomic_output(path) as tmp:
        sf.write(str(tmp), np.asarray(x * gain, dtype=np.float32), rate, subtype=subtype,
                 format="WAV")
    return gain


class Augmenter:
    """Plans the pairs of the clean data dir; :meth:`materialise` writes their wavs,
    :meth:`write_dirs` the two data dirs (wav files or render pipes)."""

    def __init__(self, clean_dir: PathLike, musan_dir: PathLike, rirs_dir: PathLike,
                 out_clean: PathLike, out_aug: PathLike, rounds: int = 1, crop_sec: float = 2.015,
                 seed: int = 0, sample_rate: int = 16000, subtype: str = "PCM_16",
                 materialise: bool = False, fresh_crops: bool = True,
                 policy: AugmentPolicy = RELEASE):
        if rounds < 1:
            raise OptionError(Param("rounds"), f" must be >= 1, got {rounds}")
        if subtype not in ("PCM_16", "FLOAT"):
            raise SeedkitError(f"wav subtype must be PCM_16 or FLOAT, got {subtype!r}")
        self.out_clean, self.out_aug = Path(out_clean), Path(out_aug)
        if self.out_clean.resolve() == self.out_aug.resolve():
            raise SeedkitError("the clean-crop and augmented output dirs must differ",
                               self.out_aug)
        self.planner = PairPlanner(clean_dir, musan_dir, rirs_dir, crop_sec, seed, sample_rate,
                                   fresh_crops, policy=policy)
        self.renderer = self.planner.renderer()
        self.rounds, self.rate, self.subtype = rounds, sample_rate, subtype
        self.materialise_wavs = materialise
        self.utts = self.planner.utterances

    def clean_path(self, key: str) -> Path:
        return output_path(self.out_clean / "wav", key)

    def aug_path(self, key: str) -> Path:
        return output_path(self.out_aug / "wav", key)

    def path(self, e: RenderEntry) -> Path:
        return self.clean_path(e.key) if e.kind == "clean" else self.aug_path(e.key)

    def plan(self, utts: list[str], desc: str = "plan") -> list[RenderEntry]:
        """Rounds 1..K of ``utts`` (one clean entry per distinct clean key)."""
        out, seen = [], set()
        for utt in tqdm(utts, desc=desc, unit="utt", leave=False):
            for k in range(1, self.rounds + 1):
                for e in self.planner.plan(utt, k):
                    if e.key not in seen:
                        seen.add(e.key)
                        out.append(e)
        return out

    def materialise(self, entries: list[RenderEntry], desc: str = "augment") -> None:
        """Write the wav of every entry not already there."""
        for e in tqdm(entries, desc=desc, unit="wav", leave=False):
            path = self.path(e)
            if not path.is_file():
                write_audio(path, self.renderer.render(e), self.rate, self.subtype)

    def write_dirs(self, entries: list[RenderEntry]) -> dict[str, int]:
        """Write both data dirs (after every wav exists when materialising)."""
        dur = self.planner.length / self.rate
        spk = self.planner.utt2spk
        by_key = {e.key: e for e in entries}
        clean_of: dict[str, str] = {}
        for e in entries:
            if e.kind == "clean":
                continue
            k = int(e.key[len(e.clean) + 1:].lstrip("abcdefghijklmnopqrstuvwxyz_"))
            clean_of[e.key] = self.planner.clean_key(e.clean, k)
        sources = [f"clean {self.planner.inputs.dirs[0]}", f"musan {self.planner.inputs.dirs[1]}",
                   f"rirs {self.planner.inputs.dirs[2]}", f"sample_rate {self.rate}"]

        def one(out: Path, keys: list[str]) -> None:
            dd = DataDir()
            if self.materialise_wavs:
                dd.wav_scp = OrderedDict((k, os.path.abspath(self.path(by_key[k]))) for k in keys)
            else:
                dd.wav_scp = OrderedDict((k, render_pipe(out / SPEC_NAME, k)) for k in keys)
            dd.utt2spk = OrderedDict((k, spk[by_key[k].clean]) for k in keys)
            dd.spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
            dd.utt2dur = OrderedDict((k, dur) for k in keys)
            if out == self.out_aug:
                dd.extra = {
                    "utt2clean": OrderedDict((k, clean_of.get(k, k)) for k in keys),
                    "utt2env": OrderedDict(
                        (k, "clean" if by_key[k].kind == "clean"
                         else f"{by_key[k].kind}:{by_key[k].source}") for k in keys)}
            out.mkdir(parents=True, exist_ok=True)
            write_lines(out / SOURCES_NAME, sources)
            write_lines(out / SPEC_NAME, (by_key[k].to_line() for k in keys))
            write_data_dir(dd, out)

        clean_keys = c_sorted(e.key for e in entries if e.kind == "clean")
        keys = c_sorted(by_key)
        one(self.out_clean, clean_keys)
        one(self.out_aug, keys)
        info = self.out_aug / "augment.info"
        if self.materialise_wavs:
            lines = []
            for k in keys:
                e = by_key[k]
                snr_s = "-" if e.snr is None else f"{e.snr:.4f}"
                src, off = (e.clean, e.start) if e.kind == "clean" else (e.source, e.source_start)
                lines.append(f"{k} {e.kind} {src} {snr_s} {off}")
            write_lines(info, ["# <utt> <clean|music|noise|reverb> <source-key> <snr-dB or -> "
                               "<crop-start-in-source>"] + lines)
        elif info.exists():
            info.unlink()
        return {"clean": len(clean_keys), "augmented": len(keys) - len(clean_keys),
                "pairs": len(keys)}


def check_sources(inputs: Inputs, entries: Iterable[RenderEntry]) -> int:
    """Read every RIR and MUSAN recording that ``entries`` use, once
    (:meth:`AudioTable.check_source`: audio at the rate, mono, samples, finite, not all zeros);
    a bad one raises naming its ``wav.scp`` line. Returns the number of sources checked."""
    rirs: set[str] = set()
    musan: set[str] = set()
    for e in entries:
        if e.kind == "reverb":
            rirs.add(e.source)
        elif e.kind in MULTI_KINDS:
            parts = list(e.sources)
            if e.kind != "babble":
                rirs.add(parts.pop(0))
            musan.update(parts)
        elif e.kind != "clean":
            musan.add(e.source)
    for key in c_sorted(rirs):
        inputs.rirs.check_source(key)
    for key in c_sorted(musan):
        inputs.musan.check_source(key)
    return len(rirs) + len(musan)


def augment_data_dir(clean_dir: PathLike, out_clean: PathLike, out_aug: PathLike, *,
                     musan: PathLike, rirs: PathLike, rounds: int = 1, crop_sec: float = 2.015,
                     seed: int = 0, sample_rate: int = 16000, job: Optional[int] = None,
                     nj: Optional[int] = None, subtype: str = "PCM_16",
                     materialise: bool = False, fresh_crops: bool = True,
                     policy: AugmentPolicy = RELEASE) -> dict[str, int]:
    """Plan the clean crops and their corrupted copies; see the module docstring.

    ``materialise``: write every waveform as a wav (else the dirs hold render pipes and
    ``render.spec``). With ``job``/``nj`` only that part's wavs are made (no data dirs); without,
    whatever is missing is made and both data dirs are written. ``policy``: the pair types of
    every round (:mod:`seedkit.augment_policy`; default the release's music, noise, reverb).
    """
    aug = Augmenter(clean_dir, musan, rirs, out_clean, out_aug, rounds=rounds, crop_sec=crop_sec,
                    seed=seed, sample_rate=sample_rate, subtype=subtype,
                    materialise=materialise, fresh_crops=fresh_crops, policy=policy)
    if job is not None:
        utts = job_keys(aug.utts, job, nj or 1)
        entries = aug.plan(utts, desc=f"plan {job}/{nj}")
        if materialise:
            check_sources(aug.planner.inputs, entries)
            aug.materialise(entries, desc=f"augment {job}/{nj}")
        n = sum(e.kind != "clean" for e in entries)
        log.info("job %d/%d: %d clean utterances, %d copies%s", job, nj, len(utts), n,
                 "" if materialise else " planned (spec mode: no audio written)")
        return {"clean": len(utts), "augmented": n}
    entries = aug.plan(aug.utts)
    check_sources(aug.planner.inputs, entries)  # before any spec or wav is written
    if materialise:
        aug.materialise(entries)
    stats = aug.write_dirs(entries)
    log.info("%s -> %s (%d clean crops of %d samples), %s (%d copies, %d pairs in utt2clean)%s",
             clean_dir, out_clean, stats["clean"], aug.planner.length, out_aug,
             stats["augmented"], stats["pairs"],
             "" if materialise else f"; no audio written: wav.scp renders from {SPEC_NAME}")
    return stats


__all__ = [
    "Augmenter",
    "PairPlanner",
    "augment_data_dir",
    "check_sources",
    "write_audio",
]
