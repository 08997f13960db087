"""The environment library: which noise, music, speech and RIR recordings exist, their ids, and
the MUSAN / RIRS_NOISES paths they are written to.

Ids are unique across the training library (``<corpus>/musan``, ``<corpus>/RIRS_NOISES``) and the
held-out library (``<corpus>/eval_envs/...``): held-out recordings continue the numbering, so an
env id in an eval set can never name a training recording.
"""

from __future__ import annotations

from dataclasses import dataclass

from seedkit.corpus.config import MUSIC_KINDS, NOISE_KINDS, ROOM_TYPES, CorpusConfig
from seedkit.corpus.environments import NONSTATIONARY_TYPES, STATIONARY_TYPES

SPEECH_SUBSET = "synth"


@dataclass(frozen=True)
class EnvRecording:
    """One MUSAN-layout recording. ``relpath`` is relative to the library root (the corpus dir
    for training, ``<corpus>/eval_envs`` for held-out)."""

    rec_id: str
    category: str  # noise | music | speech
    subset: str  # stationary, nonstationary, babble, tonal, chords, rhythm, synth
    detail: str  # white/pink/..., or the speaker id for speech
    index: int
    held_out: bool

    @property
    def relpath(self) -> str:
        return f"musan/{self.category}/{self.subset}/{self.rec_id}.wav"

    @property
    def root(self) -> str:
        """Directory below the corpus root that holds ``relpath``."""
        return "eval_envs" if self.held_out else "."


@dataclass(frozen=True)
class RirFile:
    """One RIRS_NOISES simulated RIR (``<type>/RoomNNN/RoomNNN-MMMMM.wav``)."""

    room_type: str
    room: int
    number: int
    held_out: bool

    @property
    def room_name(self) -> str:
        return f"Room{self.room:03d}"

    @property
    def room_id(self) -> str:
        return f"{self.room_type}-{self.room_name}"

    @property
    def rir_id(self) -> str:
        return f"{self.room_id}-{self.number:05d}"

    @property
    def relpath(self) -> str:
        return (f"RIRS_NOISES/simulated_rirs/{self.room_type}/{self.room_name}/"
                f"{self.room_name}-{self.number:05d}.wav")

    @property
    def root(self) -> str:
        return "eval_envs" if self.held_out else "."


def noise_recordings(cfg: CorpusConfig, babble_speakers: list[str]) -> list[EnvRecording]:
    """All noise, music and speech recordings of both libraries, in a fixed order."""
    out: list[EnvRecording] = []
    half = len(babble_speakers) // 2
    for held, spks, start in ((False, babble_speakers[:half], 0),
                              (True, babble_speakers[half:], half)):
        for i, spk in enumerate(spks):
            idx = start + i
            out.append(EnvRecording(f"speech-{SPEECH_SUBSET}-{idx:04d}", "speech",
                                    SPEECH_SUBSET, spk, idx, held))
    for kind in NOISE_KINDS:
        types = {"stationary": STATIONARY_TYPES, "nonstationary": NONSTATIONARY_TYPES,
                 "babble": ("babble",)}[kind]
        n_train, n_eval = cfg.noises_per_kind, cfg.eval_noises_per_kind
        for idx in range(n_train + n_eval):
            out.append(EnvRecording(f"noise-{kind}-{idx:04d}", "noise", kind,
                                    types[idx % len(types)], idx, idx >= n_train))
    for kind in MUSIC_KINDS:
        n_train, n_eval = cfg.music_per_kind, cfg.eval_music_per_kind
        for idx in range(n_train + n_eval):
            out.append(EnvRecording(f"music-{kind}-{idx:04d}", "music", kind, kind, idx,
                                    idx >= n_train))
    return out


def rir_file_list(cfg: CorpusConfig) -> list[RirFile]:
    """All RIRs of both libraries: ``rooms_per_type`` training rooms, then held-out rooms."""
    out = []
    for room_type in ROOM_TYPES:
        for room in range(1, cfg.rooms_per_type + cfg.eval_rooms_per_type + 1):
            held = room > cfg.rooms_per_type
            for number in range(1, cfg.rirs_per_room + 1):
                out.append(RirFile(room_type, room, number, held))
    return out


def music_annotation(rec: EnvRecording) -> str:
    """A MUSAN ``music/<subset>/ANNOTATIONS`` line: ``<id> <genres> <vocals Y|N> <artist>``."""
    genre = {"tonal": "Melody", "chords": "Harmony", "rhythm": "Percussion"}[rec.subset]
    return f"{rec.rec_id} {genre} N seedkit-{rec.subset}"


def rir_list_line(rir: RirFile) -> str:
    """A ``simulated_rirs/<type>/rir_list`` line as in RIRS_NOISES."""
    return f"--rir-id {rir.rir_id} --room-id {rir.room_id} {rir.relpath}"
