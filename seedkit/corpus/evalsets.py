"""Design of the evaluation sets: which utterance goes where, in which environment, and the trials.

This module decides; :mod:`seedkit.corpus.make` renders the audio. Sets:

- ``eval_clean``: clean enrollment and test (the role of VoxCeleb1-O); unordered pairs.
- ``eval_mix``: built like VC-Mix. Utterances are grouped into "sessions": each session is one
  acoustic environment (one held-out noise recording, one held-out RIR, one SNR) shared by
  ``mix_speakers_per_env`` speakers with ``mix_utts_per_speaker_env`` utterances each. Every
  non-target trial pairs two speakers of the same session; every target trial pairs two sessions
  of one speaker. An embedding that encodes the environment is punished both ways.
- ``eval_snr<S>``: enrollment clean (all eval utterances), test side = half of each speaker's
  utterances corrupted at S dB with held-out noise; the same trials and noise segments at every
  SNR, only the level changes.

All trial lists are balanced (half target) and C-sorted by (enroll, test).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from seedkit.data.trials import Trial
from seedkit.errors import OptionError, Param, SeedkitError

CLEAN = "clean"


@dataclass
class EvalUtt:
    """One utterance of an eval set: its key, speaker, clean source and environment."""

    utt: str
    spk: str
    clean: str  # key of the clean eval utterance it is made from
    env: str = CLEAN  # env id: "<noise-id>+<rir-id>" ("none" for a missing part) or "clean"
    noise: str = ""  # noise recording id ("" for clean)
    rir: str = ""  # rir id ("" when none)
    snr: float = 0.0
    offset: int = 0  # start sample in the (looped) noise recording


@dataclass
class EvalSet:
    name: str
    utts: list[EvalUtt] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)


def env_id(noise: str, rir: str) -> str:
    """The env id that names the noise recording and the RIR (``none`` for a missing part)."""
    return f"{noise or 'none'}+{rir or 'none'}"


def _sample(rng: np.random.Generator, pairs: Sequence[tuple[str, str]], k: int, what: str,
            hint: Hint) -> list[tuple[str, str]]:
    if len(pairs) < k:
        raise OptionError(f"{what}: only {len(pairs)} candidate pairs for {k} trials; ", *hint)
    idx = rng.choice(len(pairs), size=k, replace=False)
    return [pairs[i] for i in sorted(idx.tolist())]


def _random_pairs(rng: np.random.Generator, keys: Sequence[str], ok, k: int, ordered: bool,
                  what: str, hint: Hint, total: int) -> list[tuple[str, str]]:
    """``k`` distinct pairs of ``keys`` accepted by ``ok(a, b)``, by rejection sampling (the
    candidate set is too large to list). ``total`` is the number of acceptable pairs."""
    if total < k:
        raise OptionError(f"{what}: only {total} candidate pairs for {k} trials; ", *hint)
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    n = len(keys)
    while len(out) < k:
        i, j = (int(v) for v in rng.integers(0, n, size=2))
        if i == j:
            continue
        a, b = keys[i], keys[j]
        if not ordered and a > b:
            a, b = b, a
        if (a, b) in seen or not ok(a, b):
            continue
        seen.add((a, b))
        out.append((a, b))
    return out


def _trials(targets: list[tuple[str, str]], nontargets: list[tuple[str, str]]) -> list[Trial]:
    out = [Trial(a, b, True) for a, b in targets] + [Trial(a, b, False) for a, b in nontargets]
    return sorted(out, key=lambda t: (t.enroll.encode(), t.test.encode()))


#: Error text parts (str and :class:`Param`) saying what to change when a set has too few pairs.
Hint = tuple[Union[str, Param], ...]


def trials_hint(speakers: str = "num_eval_speakers", utts: str = "eval_utts_per_speaker") -> Hint:
    """What to change when a set has too few candidate pairs: the caller's parameters for its
    speaker count ``speakers``, utterances per speaker ``utts``, and ``trials_per_set``."""
    return ("raise ", Param(speakers), " or ", Param(utts), ", or lower ",
            Param("trials_per_set"))


HINT = trials_hint()


def design_clean(rng: np.random.Generator, utt2spk: dict[str, str], n_trials: int,
                 hint: Hint = HINT) -> EvalSet:
    """``eval_clean``: every eval utterance clean; unordered same/different-speaker pairs;
    ``hint``: what to change when there are too few pairs (:func:`trials_hint`)."""
    keys = sorted(utt2spk)
    half = n_trials // 2
    by_spk: dict[str, list[str]] = {}
    for u in keys:
        by_spk.setdefault(utt2spk[u], []).append(u)
    targets_all = [(a, b) for us in by_spk.values() for i, a in enumerate(us) for b in us[i + 1:]]
    targets = _sample(rng, targets_all, half, "eval_clean target trials", hint)
    n_pairs = len(keys) * (len(keys) - 1) // 2
    nontargets = _random_pairs(rng, keys, lambda a, b: utt2spk[a] != utt2spk[b], half, False,
                               "eval_clean non-target trials", hint, n_pairs - len(targets_all))
    es = EvalSet("eval_clean", [EvalUtt(u, utt2spk[u], u) for u in keys], _trials(targets,
                                                                                 nontargets))
    return es


@dataclass(frozen=True)
class Condition:
    """An acoustic environment: noise recording, RIR and SNR."""

    noise: str
    rir: str
    snr: float


def design_mix(rng: np.random.Generator, utt2spk: dict[str, str], n_trials: int,
               speakers_per_env: int, utts_per_env: int, noises: Sequence[str],
               rirs: Sequence[str], snr_range: tuple[float, float],
               noise_len: dict[str, int], hint: Hint = HINT) -> EvalSet:
    """``eval_mix`` (VC-Mix construction, see the module docstring); ``hint``: as
    :func:`design_clean`'s."""
    by_spk: dict[str, list[str]] = {}
    for u in sorted(utt2spk):
        by_spk.setdefault(utt2spk[u], []).append(u)
    spks = sorted(by_spk)
    counts = {len(v) for v in by_spk.values()}
    if len(counts) != 1:
        raise SeedkitError("eval_mix needs the same number of utterances for every speaker")
    per_spk = counts.pop()
    rounds = per_spk // utts_per_env
    # each speaker's utterances, shuffled, in chunks of utts_per_env: one chunk per round
    chunks = {}
    for s in spks:
        us = [by_spk[s][i] for i in rng.permutation(len(by_spk[s]))]
        chunks[s] = [us[r * utts_per_env:(r + 1) * utts_per_env] for r in range(rounds)]
    groups_per_round = max(1, len(spks) // speakers_per_env)
    sessions: list[list[str]] = []
    for r in range(rounds):
        perm = [spks[i] for i in rng.permutation(len(spks))]
        for group in np.array_split(np.arange(len(perm)), groups_per_round):
            sessions.append([u for g in group for u in chunks[perm[int(g)]][r]])
    conds = _conditions(rng, len(sessions), noises, rirs, snr_range)
    utts: list[EvalUtt] = []
    utt_env: dict[str, str] = {}
    for members, cond in zip(sessions, conds):
        eid = env_id(cond.noise, cond.rir)
        for u in members:
            key = f"{u}-mix"
            off = int(rng.integers(0, noise_len[cond.noise]))
            utts.append(EvalUtt(key, utt2spk[u], u, eid, cond.noise, cond.rir, cond.snr, off))
            utt_env[key] = eid
    utts.sort(key=lambda e: e.utt.encode())
    spk_of = {e.utt: e.spk for e in utts}
    keys = [e.utt for e in utts]
    nontarget_all = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1:]
                     if utt_env[a] == utt_env[b] and spk_of[a] != spk_of[b]]
    target_all = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1:]
                  if spk_of[a] == spk_of[b] and utt_env[a] != utt_env[b]]
    half = n_trials // 2
    hint += (", or raise mix_speakers_per_env",)
    targets = _sample(rng, target_all, half, "eval_mix target trials", hint)
    nontargets = _sample(rng, nontarget_all, half, "eval_mix non-target trials", hint)
    return EvalSet("eval_mix", utts, _trials(targets, nontargets))


def _conditions(rng: np.random.Generator, n: int, noises: Sequence[str], rirs: Sequence[str],
                snr_range: tuple[float, float]) -> list[Condition]:
    """``n`` environments with distinct (noise, RIR) pairs, spreading recordings evenly."""
    if len(noises) * max(1, len(rirs)) < n:
        raise SeedkitError(f"eval_mix needs {n} distinct environments but the held-out library "
                           f"has {len(noises)} noises x {len(rirs)} RIRs; raise "
                           "eval_noises_per_kind or eval_rooms_per_type")
    noise_order = [noises[i] for i in rng.permutation(len(noises))]
    rir_order = [rirs[i] for i in rng.permutation(len(rirs))] if rirs else [""]
    out: list[Condition] = []
    used: set[tuple[str, str]] = set()
    k = 0
    while len(out) < n:
        noise = noise_order[k % len(noise_order)]
        rir = rir_order[(k + k // len(noise_order)) % len(rir_order)]
        k += 1
        if (noise, rir) in used:
            continue
        used.add((noise, rir))
        out.append(Condition(noise, rir, float(rng.uniform(*snr_range))))
    return out


def design_snr(rng: np.random.Generator, utt2spk: dict[str, str], n_trials: int,
               snrs: Sequence[float], noises: Sequence[str], noise_len: dict[str, int],
               hint: Hint = HINT) -> list[EvalSet]:
    """``eval_snr<S>`` for each S in ``snrs``: clean enrollment, noisy test, shared trials;
    ``hint``: as :func:`design_clean`'s."""
    by_spk: dict[str, list[str]] = {}
    for u in sorted(utt2spk):
        by_spk.setdefault(utt2spk[u], []).append(u)
    test_clean = sorted(u for s in sorted(by_spk) for u in
                        [by_spk[s][i] for i in rng.permutation(len(by_spk[s]))
                         [: max(1, len(by_spk[s]) // 2)]])
    enroll = sorted(utt2spk)
    half = n_trials // 2
    target_all = [(e, t) for t in test_clean for e in by_spk[utt2spk[t]] if e != t]
    targets = _sample(rng, target_all, half, "eval_snr target trials", hint)
    n_non = sum(len(enroll) - len(by_spk[utt2spk[t]]) for t in test_clean)
    # (enroll, test) with enroll from all utterances and test from the test subset
    nontargets: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    if n_non < half:
        raise OptionError(f"eval_snr non-target trials: only {n_non} candidate pairs for "
                          f"{half} trials; ", *hint)
    while len(nontargets) < half:
        e = enroll[int(rng.integers(0, len(enroll)))]
        t = test_clean[int(rng.integers(0, len(test_clean)))]
        if utt2spk[e] == utt2spk[t] or (e, t) in seen:
            continue
        seen.add((e, t))
        nontargets.append((e, t))
    picks = {t: noises[int(rng.integers(0, len(noises)))] for t in test_clean}
    offsets = {t: int(rng.integers(0, noise_len[picks[t]])) for t in test_clean}
    sets = []
    for snr in snrs:
        tag = f"snr{snr:g}"
        utts = [EvalUtt(u, utt2spk[u], u) for u in enroll]
        utts += [EvalUtt(f"{t}-{tag}", utt2spk[t], t, env_id(picks[t], ""), picks[t], "",
                         float(snr), offsets[t]) for t in test_clean]
        utts.sort(key=lambda e: e.utt.encode())
        trials = _trials([(e, f"{t}-{tag}") for e, t in targets],
                         [(e, f"{t}-{tag}") for e, t in nontargets])
        sets.append(EvalSet(f"eval_{tag}", utts, trials))
    return sets
