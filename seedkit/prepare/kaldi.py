"""Lhotse manifests -> Kaldi data directories (``wav.scp``, ``utt2spk``, ``spk2utt``, ``utt2dur``).

seedkit writes its own export instead of ``lhotse.kaldi.export_to_kaldi`` because that function
(lhotse 1.33) always writes ``segments`` (even for one utterance per file), does not write
``spk2utt``, puts unquoted paths in its ffmpeg pipes, and uses ``-map_channel``, which FFmpeg 7
removed. Here:

- a mono ``.wav`` file at its own rate is a plain path (absolute);
- anything else (flac, m4a, several channels, a lhotse resampling transform) becomes
  ``ffmpeg -nostdin -loglevel error -threads 1 -i '<path>'
  [-af channelmap=map=<c>:channel_layout=mono] -ac 1 -ar <rate> -acodec pcm_s16le -f wav pipe:1 |``
  (channel 0 of a multi-channel file);
- with ``segments=False`` every recording is one utterance keyed by the recording id (the form SEED
  uses: one crop per file); with ``segments=True`` each supervision is a ``segments`` line.
"""

from __future__ import annotations

import os
import shlex
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Optional

from seedkit.data.datadir import DataDir, spk2utt_from_utt2spk, write_data_dir
from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import c_sorted


def ffmpeg_pipe(path: PathLike, rate: int, channel: Optional[int] = None) -> str:
    """A ``wav.scp`` pipe that decodes ``path`` to 16-bit mono wav at ``rate`` on stdout."""
    chan = "" if channel is None else f"-af channelmap=map={int(channel)}:channel_layout=mono "
    return (f"ffmpeg -nostdin -loglevel error -threads 1 -i {shlex.quote(os.fspath(path))} "
            f"{chan}-ac 1 -ar {int(rate)} -acodec pcm_s16le -f wav pipe:1 |")


def parse_ffmpeg_pipe(entry: str) -> Optional[str]:
    """The file an :func:`ffmpeg_pipe` value without a channel map decodes; ``None`` for any
    other value."""
    try:
        words = shlex.split(entry.strip().removesuffix("|"))
    except ValueError:
        return None
    head = ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1", "-i"]
    if len(words) != 17 or words[:7] != head or words[8:11] != ["-ac", "1", "-ar"]:
        return None
    if words[12:] != ["-acodec", "pcm_s16le", "-f", "wav", "pipe:1"] or words[7] == "pipe:0":
        return None
    return words[7]


def recording_entry(rec, channel: int = 0) -> str:
    """The ``wav.scp`` value for a lhotse ``Recording`` (path or pipe; see the module doc)."""
    if len(rec.sources) != 1:
        raise SeedkitError(f"recording {rec.id!r} has {len(rec.sources)} audio sources; seedkit "
                           "supports one file per recording")
    src = rec.sources[0]
    if src.type == "command":
        if rec.transforms or len(src.channels) != 1:
            return f"{src.source} | " + ffmpeg_pipe("pipe:0", rec.sampling_rate,
                                                     None if len(src.channels) == 1 else channel)
        return f"{src.source} |"
    if src.type != "file":
        raise SeedkitError(f"recording {rec.id!r} has a {src.type!r} audio source; Kaldi data "
                           "dirs need local files (download the corpus first)")
    path = os.path.abspath(src.source)
    plain = Path(path).suffix.lower() == ".wav" and len(src.channels) == 1 and not rec.transforms
    if plain and not any(ch.isspace() for ch in path):
        return path
    # a path with spaces must be quoted, so it goes through a pipe too
    return ffmpeg_pipe(path, rec.sampling_rate, None if len(src.channels) == 1 else channel)


def _check_key(key: str, what: str) -> str:
    if not key or any(ch.isspace() for ch in key):
        raise SeedkitError(f"{what} {key!r} is empty or contains whitespace; Kaldi keys cannot")
    return key


def lhotse_to_data_dir(recordings: Iterable, supervisions: Iterable, *,
                       rec_key: Callable[[str], str] = lambda r: r,
                       spk_of: Optional[Callable[[object], str]] = None,
                       segments: bool = False,
                       utt_key: Optional[Callable[[object], str]] = None) -> DataDir:
    """Build a :class:`DataDir` from a ``RecordingSet`` and a ``SupervisionSet``.

    ``rec_key`` maps a lhotse recording id to the Kaldi key (e.g. ``_`` -> ``-``); ``spk_of(sup)``
    gives the speaker (default ``sup.speaker``, else the utterance key itself). With
    ``segments=False`` each recording needs at least one supervision and all of its supervisions
    must agree on the speaker; the utterance key is the recording key. Recordings without a
    supervision are dropped (as lhotse's ``fix_manifests`` does).
    """
    recs = {r.id: r for r in recordings}
    by_rec: dict[str, list] = {}
    for s in supervisions:
        if s.recording_id in recs:
            by_rec.setdefault(s.recording_id, []).append(s)
    dd = DataDir()
    wav, utt2spk, utt2dur = {}, {}, {}
    seg: dict[str, tuple[str, float, float]] = {}

    def speaker(sup, key):
        spk = spk_of(sup) if spk_of is not None else sup.speaker
        return _check_key(spk if spk else key, "speaker id")

    for rid, sups in by_rec.items():
        rec = recs[rid]
        rkey = _check_key(rec_key(rid), "recording id")
        if rkey in wav:
            raise SeedkitError(f"two recordings map to the key {rkey!r}; recording ids must be "
                               "unique after key mapping")
        wav[rkey] = recording_entry(rec)
        if not segments:
            spks = {speaker(s, rkey) for s in sups}
            if len(spks) != 1:
                raise SeedkitError(f"recording {rid!r} has supervisions of several speakers "
                                   f"{sorted(spks)}; prepare it with segments")
            utt2spk[rkey] = spks.pop()
            utt2dur[rkey] = float(rec.duration)
            continue
        for s in sups:
            ukey = _check_key(utt_key(s) if utt_key else rec_key(s.id), "utterance id")
            if ukey in utt2spk:
                raise SeedkitError(f"two supervisions map to the utterance key {ukey!r}")
            utt2spk[ukey] = speaker(s, ukey)
            seg[ukey] = (rkey, float(s.start), float(s.start + s.duration))
            utt2dur[ukey] = float(s.duration)
    if not utt2spk:
        raise SeedkitError("no recording with a supervision: nothing to write")
    dd.wav_scp = OrderedDict((k, wav[k]) for k in c_sorted(wav))
    dd.utt2spk = OrderedDict((k, utt2spk[k]) for k in c_sorted(utt2spk))
    dd.spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
    dd.utt2dur = OrderedDict((k, utt2dur[k]) for k in c_sorted(utt2dur))
    if segments:
        dd.segments = OrderedDict((k, seg[k]) for k in c_sorted(seg))
    return dd


def write_lhotse_data_dir(recordings, supervisions, out_dir: PathLike, **kw) -> DataDir:
    """:func:`lhotse_to_data_dir` and write it (each file atomically; ``spk2utt`` included)."""
    dd = lhotse_to_data_dir(recordings, supervisions, **kw)
    write_data_dir(dd, out_dir)
    dd.path = Path(out_dir)
    return dd


__all__ = ["ffmpeg_pipe", "lhotse_to_data_dir", "parse_ffmpeg_pipe", "recording_entry",
           "write_lhotse_data_dir"]
