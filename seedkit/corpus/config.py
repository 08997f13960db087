"""Parameters of the synthetic mini corpus (:class:`CorpusConfig`) and their checks.

Every size and range of the generator lives here, so ``corpus.json`` can record the complete
recipe of a corpus. Defaults are sized so the whole mini recipe fits 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Union

from seedkit.errors import OptionError, Param, SeedkitError

#: espeak-ng language voices that read the English word list with Latin-script rules.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "de", "nl", "fr-fr", "es", "it",
    "pt", "pl", "cs", "sv", "da", "nb", "fi", "hu", "ro", "sk", "hr", "id", "af", "ca",
)

#: espeak-ng voice variants that sound like a person (robots, whisper, croak and klatt excluded).
DEFAULT_VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "adam", "Andy", "antonio", "belinda", "benjamin", "caleb", "david", "ed", "edward",
    "gustave", "iven", "john", "linda", "max", "michel", "miguel", "paul", "pedro", "quincy",
    "rob", "robert", "steph", "travis", "victor", "zac", "norbert", "shelby",
)

#: Room types of RIRS_NOISES/simulated_rirs, in that corpus's order.
ROOM_TYPES: tuple[str, ...] = ("smallroom", "mediumroom", "largeroom")

#: Noise kinds (MUSAN ``noise/<subset>``) and music kinds (MUSAN ``music/<subset>``).
NOISE_KINDS: tuple[str, ...] = ("stationary", "nonstationary", "babble")
MUSIC_KINDS: tuple[str, ...] = ("tonal", "chords", "rhythm")


def _same_kind(value: Any, like: Any) -> bool:
    """``value`` is of the kind of ``like`` (an int where an int is wanted, a number where a
    float is, a list where a tuple is, a string where a string is)."""
    if isinstance(value, bool):
        return isinstance(like, bool)
    if isinstance(like, tuple):
        return isinstance(value, tuple)
    if isinstance(like, float):
        return isinstance(value, (int, float))
    if isinstance(like, int):
        return isinstance(value, int)
    if isinstance(like, str):
        return isinstance(value, str)
    return True


@dataclass
class CorpusConfig:
    """All knobs of :func:`seedkit.corpus.make_mini_corpus`. Same config + seed -> same bytes."""

    seed: int = 0
    # speakers and utterances. SEED and the regression baseline learn from (clean, corrupted)
    # pairs without speaker labels, and on voices training never saw they generalise with the
    # number of training voices, not utterances per voice: 800 x 1 against 40 x 20 (the same
    # 800 utterances) took SEED (feature_ensemble 1) from -8% to -14% EER at 0 dB + reverb and
    # from +18% to +8% on clean speech of held-out voices (docs/heldout_study.md)
    num_train_speakers: int = 800
    train_utts_per_speaker: int = 1
    num_eval_speakers: int = 30
    eval_utts_per_speaker: int = 12
    num_babble_speakers: int = 16
    babble_utts_per_speaker: int = 6
    min_dur: float = 2.0
    max_dur: float = 8.0
    # the voice space a speaker is drawn from: language x variant x pitch x range x speed x gap
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    pitches: tuple[int, ...] = (25, 40, 55, 70)
    pitch_ranges: tuple[int, ...] = (20, 50, 80)
    speeds: tuple[int, ...] = (135, 160, 185)
    word_gaps: tuple[int, ...] = (0, 2)
    # variants no training speaker is drawn with, so that voices no training speaker has exist
    # (seedkit-make-heldout-sets takes the variants the training speakers do not use)
    # (the default: the 13 variants the 40 training speakers of the earlier default size did
    # not use at seed 777, so that corpus's held-out sets stay what they were)
    heldout_variants: tuple[str, ...] = ("m3", "m4", "m8", "f1", "f2", "f5", "caleb", "david",
                                         "paul", "quincy", "travis", "norbert", "shelby")
    # within-speaker variation per utterance (session variability)
    utt_pitch_jitter: int = 6
    utt_speed_jitter: float = 0.08
    utt_range_jitter: int = 10
    # speech level (dBFS RMS) of every written utterance, and its noise floor (dB below it)
    level_dbfs: float = -26.0
    noise_floor_db: float = 50.0
    # environment library: recordings per kind (train, eval), seconds per recording
    noises_per_kind: int = 6
    eval_noises_per_kind: int = 4
    music_per_kind: int = 4
    eval_music_per_kind: int = 3
    noise_dur: tuple[float, float] = (8.0, 15.0)
    babble_talkers: tuple[int, int] = (3, 7)
    rooms_per_type: int = 3
    eval_rooms_per_type: int = 2
    rirs_per_room: int = 4
    # evaluation sets
    trials_per_set: int = 3000
    snrs: tuple[int, ...] = (0, 5, 10, 15)
    mix_speakers_per_env: int = 6
    mix_utts_per_speaker_env: int = 2
    mix_snr: tuple[float, float] = (10.0, 20.0)
    # process pool size (bytes do not depend on it)
    jobs: int = 2
    # free-form note kept in corpus.json
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def voice_space_size(self) -> int:
        """Number of distinct speaker tuples the voice space holds."""
        return (len(self.languages) * len(self.variants) * len(self.pitches)
                * len(self.pitch_ranges) * len(self.speeds) * len(self.word_gaps))

    @property
    def num_speakers(self) -> int:
        return self.num_train_speakers + self.num_eval_speakers + self.num_babble_speakers

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CorpusConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise SeedkitError(f"unknown corpus config keys {unknown}; known: {sorted(names)}")
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        default = cls()
        for k, v in kw.items():
            want = getattr(default, k)
            if isinstance(want, bool) or isinstance(want, dict):
                continue
            ok = _same_kind(v, want)
            if ok and isinstance(want, tuple) and want:
                ok = all(_same_kind(x, want[0]) for x in v)
            if not ok:
                raise SeedkitError(f"corpus config key {k} must be like {want!r}, got {v!r}")
        return cls(**kw)

    def validate(self) -> None:
        """Raise :class:`SeedkitError` for a config that cannot make a corpus; a field is named
        as a parameter (:class:`seedkit.errors.Param`: the field, or a command's option)."""
        def need(cond: bool, *parts: Union[str, Param]) -> None:
            if not cond:
                raise OptionError(*parts)

        P = Param
        for name in ("noise_dur", "babble_talkers", "mix_snr"):
            value = getattr(self, name)
            need(isinstance(value, tuple) and len(value) == 2,
                 P(name), f" needs two values LO,HI, got {value!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            for v in value if isinstance(value, tuple) else (value,):
                if isinstance(v, float):
                    need(math.isfinite(v), P(f.name), f" must be finite, got {value!r}")
        need(isinstance(self.seed, int) and 0 <= self.seed < 2**32,
             P("seed"), f" must be in 0..2^32-1, got {self.seed}")
        need(-80 <= self.level_dbfs <= 0,
             P("level_dbfs"), f" must be in -80..0, got {self.level_dbfs}")
        need(0 <= self.noise_floor_db <= 120,
             P("noise_floor_db"), f" must be in 0..120, got {self.noise_floor_db}")
        need(0 <= self.utt_speed_jitter < 1,
             P("utt_speed_jitter"), f" must be in [0, 1), got {self.utt_speed_jitter}")
        need(0 <= self.utt_pitch_jitter <= 50,
             P("utt_pitch_jitter"), f" must be in 0..50, got {self.utt_pitch_jitter}")
        need(0 <= self.utt_range_jitter <= 100,
             P("utt_range_jitter"), f" must be in 0..100, got {self.utt_range_jitter}")
        need(self.max_dur <= 60, P("max_dur"), f" must be at most 60 s, got {self.max_dur}")
        need(self.noise_dur[1] <= 600, f"noise_dur must be at most 600 s, got {self.noise_dur}")
        lo_snr, hi_snr = self.mix_snr
        need(-20 <= lo_snr <= hi_snr <= 60,
             P("mix_snr"), f" must be LO,HI with -20 <= LO <= HI <= 60, got {self.mix_snr}")

        for name in ("num_train_speakers", "num_eval_speakers", "train_utts_per_speaker",
                     "eval_utts_per_speaker", "rooms_per_type", "eval_rooms_per_type",
                     "rirs_per_room", "noises_per_kind", "eval_noises_per_kind",
                     "music_per_kind", "eval_music_per_kind", "jobs", "trials_per_set",
                     "mix_speakers_per_env", "mix_utts_per_speaker_env"):
            need(int(getattr(self, name)) >= 1, P(name), f" must be >= 1, got "
                 f"{getattr(self, name)}")
        need(self.num_babble_speakers >= 2 and self.num_babble_speakers % 2 == 0,
             P("num_babble_speakers"), " must be even and >= 2 (half make training babble, half "
             f"held-out babble), got {self.num_babble_speakers}")
        need(self.babble_utts_per_speaker >= 1, P("babble_utts_per_speaker"), " must be >= 1")
        need(0.5 <= self.min_dur <= self.max_dur, "need 0.5 <= ", P("min_dur"), " <= ",
             P("max_dur"), f", got {self.min_dur} and {self.max_dur}")
        need(self.num_eval_speakers >= 2, P("num_eval_speakers"), " must be >= 2 (non-target "
             "trials need two speakers)")
        need(self.eval_utts_per_speaker >= 2, P("eval_utts_per_speaker"), " must be >= 2 "
             "(target trials need two utterances of a speaker)")
        need(self.trials_per_set % 2 == 0, P("trials_per_set"), " must be even (balanced target "
             f"and non-target halves), got {self.trials_per_set}")
        lo, hi = self.babble_talkers
        need(2 <= lo <= hi, f"babble_talkers must be 2 <= lo <= hi, got {self.babble_talkers}")
        need(hi <= self.num_babble_speakers // 2, f"babble needs up to {hi} talkers, but each half "
             f"of the babble speakers has only {self.num_babble_speakers // 2}; raise ",
             P("num_babble_speakers"))
        need(0 < self.noise_dur[0] <= self.noise_dur[1], f"bad noise_dur {self.noise_dur}")
        need(self.mix_speakers_per_env >= 2, P("mix_speakers_per_env"), " must be >= 2 "
             "(non-target pairs share an environment)")
        need(self.eval_utts_per_speaker % self.mix_utts_per_speaker_env == 0,
             P("eval_utts_per_speaker"), f" ({self.eval_utts_per_speaker}) must be a multiple "
             f"of mix_utts_per_speaker_env ({self.mix_utts_per_speaker_env})")
        need(self.eval_utts_per_speaker // self.mix_utts_per_speaker_env >= 2,
             "eval_mix target pairs cross environments: each speaker needs utterances in >= 2 "
             "environments; raise ", P("eval_utts_per_speaker"))
        need(self.mix_speakers_per_env <= self.num_eval_speakers,
             f"mix_speakers_per_env ({self.mix_speakers_per_env}) exceeds ",
             P("num_eval_speakers"), f" ({self.num_eval_speakers})")
        for name in ("languages", "variants", "pitches", "pitch_ranges", "speeds", "word_gaps"):
            values = getattr(self, name)
            need(len(values) >= 1, f"voice space {name} is empty")
            need(len(set(values)) == len(values), f"voice space {name} has duplicates: {values}")
        unknown = [v for v in self.heldout_variants if v not in self.variants]
        need(not unknown, P("heldout_variants"), f" names {unknown}, not in ", P("variants"),
             "; with other variants give the held-out ones too (an empty list for none)")
        need(len(set(self.heldout_variants)) < len(set(self.variants)), P("heldout_variants"),
             " leaves no variant for the training speakers")
        need(all(0 <= p <= 99 for p in self.pitches), "pitches must lie in 0..99 (espeak-ng -p)")
        need(all(80 <= s <= 450 for s in self.speeds), "speeds must lie in 80..450 (espeak-ng -s)")
        if self.num_speakers > self.voice_space_size:
            raise SeedkitError(
                f"asked for {self.num_speakers} speakers ({self.num_train_speakers} train + "
                f"{self.num_eval_speakers} eval + {self.num_babble_speakers} babble) but the voice "
                f"space holds only {self.voice_space_size} distinct voices ({len(self.languages)} "
                f"languages x {len(self.variants)} variants x {len(self.pitches)} pitches x "
                f"{len(self.pitch_ranges)} pitch ranges x {len(self.speeds)} speeds x "
                f"{len(self.word_gaps)} word gaps); ask for fewer speakers or widen the voice "
                "space")
        for snr in self.snrs:
            need(-20 <= snr <= 60, f"SNR {snr} dB out of range -20..60")
