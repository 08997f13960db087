"""Synthetic speakers: fixed espeak-ng voice tuples drawn from the seed, and their utterances.

A speaker is one point of the voice space (language voice x variant x pitch x pitch range x speed x
word gap). Speakers are drawn without replacement, so no two speakers share a tuple; the train,
eval and babble sets are disjoint slices of one draw. Each utterance jitters pitch, range and
speed a little around the speaker's values (session variability), reads random words from the
shipped word list, and is resampled from espeak-ng's 22.05 kHz to 16 kHz (scipy polyphase,
deterministic) and normalised to a fixed RMS level.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from seedkit.corpus.config import CorpusConfig
from seedkit.corpus.environments import colored_noise
from seedkit.corpus.signal import normalise_level, rms
from seedkit.corpus.text import make_sentence
from seedkit.errors import OptionError, Param, SeedkitError
from seedkit.rng import item_rng

SAMPLE_RATE = 16000
ESPEAK_RATE = 22050
INSTALL_HINT = "espeak-ng not found on PATH; install it: apt-get install -y espeak-ng"


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an espeak-ng voice tuple and the set it belongs to."""

    spk: str
    subset: str  # train | eval | babble
    language: str
    variant: str
    pitch: int
    pitch_range: int
    speed: int
    word_gap: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def espeak_binary() -> str:
    """Path of espeak-ng, or a :class:`SeedkitError` saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SeedkitError(INSTALL_HINT)
    return exe


@lru_cache(maxsize=None)
def _installed(exe: str, what: str) -> frozenset[str]:
    """Language names (``what=""``) or variant file names (``what="variant"``) espeak-ng has."""
    arg = "--voices=variant" if what else "--voices"
    out = subprocess.run([exe, arg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    names = set()
    for line in out.stdout.decode("utf-8", "replace").splitlines()[1:]:
        f = line.split()
        if len(f) >= 5:
            names.add(f[4].split("/")[-1] if what else f[1])
    return frozenset(names)


def check_voice_space(cfg: CorpusConfig) -> None:
    """Every configured language and variant must exist in the installed espeak-ng (a missing
    variant would silently fall back to the default voice and duplicate speakers)."""
    exe = espeak_binary()
    langs, variants = _installed(exe, ""), _installed(exe, "variant")
    bad = [x for x in cfg.languages if x not in langs]
    if bad:
        raise SeedkitError(f"espeak-ng has no language voice {bad}; see `espeak-ng --voices`")
    bad = [x for x in cfg.variants if x not in variants]
    if bad:
        raise SeedkitError(f"espeak-ng has no voice variant {bad}; see `espeak-ng "
                           "--voices=variant` (the file name after '!v/')")


def draw_speakers(cfg: CorpusConfig) -> dict[str, list[Speaker]]:
    """Draw ``num_speakers`` distinct voice tuples; split into train, eval and babble lists.

    One permutation of the voice space is cut eval | babble | train, so the eval and babble
    speakers do not change when only the training set is resized. Training speakers skip the
    tuples whose variant is in ``heldout_variants`` (kept for voices no training speaker has:
    :func:`seedkit.corpus.heldout.heldout_speakers`); eval and babble speakers may use them."""
    cfg.validate()
    axes = (cfg.languages, cfg.variants, cfg.pitches, cfg.pitch_ranges, cfg.speeds,
            cfg.word_gaps)
    rng = item_rng(cfg.seed, "speakers")
    perm = rng.permutation(cfg.voice_space_size).tolist()

    def voice(index: int) -> tuple:
        values = []
        for axis in reversed(axes):
            index, r = divmod(index, len(axis))
            values.append(axis[r])
        return tuple(reversed(values))

    first = cfg.num_eval_speakers + cfg.num_babble_speakers
    tuples = [voice(i) for i in perm[:first]]
    reserved = set(cfg.heldout_variants)
    train = (v for v in map(voice, perm[first:]) if v[1] not in reserved)
    tuples += [v for _, v in zip(range(cfg.num_train_speakers), train)]
    if len(tuples) < cfg.num_speakers:
        raise OptionError(f"asked for {cfg.num_train_speakers} training speakers but the voice "
                          f"space holds only {len(tuples) - first} more without the ",
                          Param("heldout_variants"), "; ask for fewer or reserve fewer variants")
    out: dict[str, list[Speaker]] = {"train": [], "eval": [], "babble": []}  # output order
    counts = (("eval", cfg.num_eval_speakers), ("babble", cfg.num_babble_speakers),
              ("train", cfg.num_train_speakers))
    pos = 0
    for subset, n in counts:
        for i in range(n):
            lang, var, pitch, prange, speed, gap = tuples[pos]
            out[subset].append(Speaker(f"{subset}{i + 1:04d}", subset, lang, var, int(pitch),
                                       int(prange), int(speed), int(gap)))
            pos += 1
    return out


def parse_espeak_wav(data: bytes) -> np.ndarray:
    """Samples of espeak-ng's ``--stdout`` wav (its size fields are placeholders, so the data
    chunk runs to the end of the stream)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SeedkitError("espeak-ng did not write a wav stream; check `espeak-ng --version`")
    pos = 12
    rate = None
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8:pos + 24])
            if fmt != 1 or channels != 1 or bits != 16:
                raise SeedkitError(f"espeak-ng wrote an unexpected wav format ({fmt}, "
                                   f"{channels} ch, {bits} bit)")
        elif tag == b"data":
            body = data[pos + 8:]
            body = body[: len(body) // 2 * 2]
            if rate != ESPEAK_RATE:
                raise SeedkitError(f"espeak-ng wrote {rate} Hz, expected {ESPEAK_RATE}")
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
        pos += 8 + size + (size & 1)
    raise SeedkitError("espeak-ng wav stream has no data chunk")


def run_espeak(voice: str, pitch: int, speed: int, word_gap: int, pitch_range: int,
               text: str) -> np.ndarray:
    """Synthesise ``text`` with one espeak-ng voice; float32 samples at 22.05 kHz."""
    ssml = f'<speak><prosody range="{pitch_range}">{text}</prosody></speak>'
    cmd = [espeak_binary(), "-m", "-z", "-v", voice, "-p", str(pitch), "-s", str(speed),
           "-g", str(word_gap), "--stdout", ssml]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise SeedkitError(f"espeak-ng failed (status {proc.returncode}) for voice {voice}: {err}")
    return parse_espeak_wav(proc.stdout)


def trim_silence(x: np.ndarray, rate: int, margin: float = 0.1, floor_db: float = -45.0
                 ) -> np.ndarray:
    """Cut leading and trailing audio quieter than ``floor_db`` below the peak, keeping
    ``margin`` seconds on each side."""
    if x.size == 0:
        return x
    thr = float(np.max(np.abs(x))) * 10 ** (floor_db / 20)
    loud = np.nonzero(np.abs(x) > thr)[0]
    if loud.size == 0:
        return x
    m = int(margin * rate)
    return x[max(0, loud[0] - m): loud[-1] + m + 1]


def synthesize_utterance(cfg: CorpusConfig, speaker: Speaker, utt: str) -> np.ndarray:
    """One utterance of ``speaker`` at 16 kHz, ``min_dur``..``max_dur`` seconds long, normalised
    to ``level_dbfs``. Depends only on (seed, speaker, utt)."""
    rng = item_rng(cfg.seed, "utt", utt)
    j = cfg.utt_pitch_jitter
    pitch = int(np.clip(speaker.pitch + rng.integers(-j, j + 1), 0, 99))
    speed = int(round(speaker.speed * (1.0 + rng.uniform(-cfg.utt_speed_jitter,
                                                         cfg.utt_speed_jitter))))
    speed = int(np.clip(speed, 80, 450))
    r = cfg.utt_range_jitter
    prange = int(np.clip(speaker.pitch_range + rng.integers(-r, r + 1), 0, 100))
    target = rng.uniform(cfg.min_dur, cfg.max_dur)
    words_per_sec = speed / 60.0
    n_words = max(2, int(round(target * words_per_sec * 0.8)))
    voice = f"{speaker.language}+{speaker.variant}"
    y = np.zeros(0, dtype=np.float32)
    for _ in range(6):
        x = run_espeak(voice, pitch, speed, speaker.word_gap, prange, make_sentence(rng, n_words))
        y = resample_poly(x.astype(np.float64), 320, 441)
        y = trim_silence(y, SAMPLE_RATE)
        dur = y.size / SAMPLE_RATE
        if dur >= cfg.min_dur:
            break
        n_words += max(1, int(np.ceil((cfg.min_dur - dur) * words_per_sec)) + 1)
    if y.size < int(cfg.min_dur * SAMPLE_RATE):
        raise SeedkitError(f"could not make {cfg.min_dur} s of speech for {utt} with voice "
                           f"{voice}; remove that voice from the voice space")
    limit = int(cfg.max_dur * SAMPLE_RATE)
    if y.size > limit:
        y = y[:limit].copy()
        fade = min(int(0.02 * SAMPLE_RATE), limit)
        y[-fade:] *= np.linspace(1.0, 0.0, fade)
    # a faint pink noise floor (microphone self-noise): espeak-ng's pauses are digital silence
    y = y / (rms(y) or 1.0) + colored_noise(rng, y.size, 1.0) * 10 ** (-cfg.noise_floor_db / 20)
    return normalise_level(y, cfg.level_dbfs)
