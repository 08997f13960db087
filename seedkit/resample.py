"""Resample a Kaldi data dir to 16 kHz mono 16-bit wav files with ffmpeg (stage 2 of the recipes).

``resample_data_dir(src, dest, wav_dir)`` converts every ``wav.scp`` entry of ``src`` (a path in
any format ffmpeg reads, or a ``cmd |`` pipe) with
``ffmpeg -ac 1 -ar <rate> -acodec pcm_s16le`` (a file already mono 16-bit wav at that rate is
copied as it is) to ``<wav_dir>/<xx>/<recording>.wav`` (``xx``: two
hex digits of the key's md5, so no directory holds millions of files) and writes ``dest``: the same
data dir with ``wav.scp`` pointing at those files, a fresh ``utt2dur``, and ``segments``, ``utt2*``
tables and ``trials`` carried over.

Each file is written to a temporary name and renamed when ffmpeg succeeds, so a file that exists is
complete: a re-run skips it (and checks its rate and channel count). ``job``/``nj`` convert only
part ``job`` of ``nj`` contiguous parts of the C-sorted recording keys and write no data dir;
``utils/resample_data_dir.sh`` runs the parts through ``run.pl``/``slurm.pl`` and then this
function without ``job`` to write ``dest`` (finding every file done).

``in_place=True`` writes no audio for the files soundfile reads (wav, FLAC; mono): a mono 16-bit
wav already at the rate keeps its path, any other such file becomes
``seedkit-resample-wav <rate> <file> |`` (:mod:`seedkit.inplace`: resampled in memory when read);
only the entries that name no such file (other pipes, several channels) are converted into
``wav_dir`` as above. ``source_rate`` (both modes) is the rate every source file must have: the
headers are read first (and, in place, each file's last sample), so a file at another rate, an
unreadable or truncated file ends the run with one error naming it and its ``wav.scp`` line
before any conversion.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import soundfile as sf
from tqdm import tqdm

from seedkit.data.datadir import (
    DataDir,
    is_pipe,
    spk2utt_from_utt2spk,
    validate_data_dir,
    write_data_dir,
)
from seedkit.errors import OptionError, Param, PathLike, SeedkitError
from seedkit.fileio import atomic_output, c_sorted, iter_lines
from seedkit.inplace import InPlaceFile, parse_resample_pipe, resample_pipe
from seedkit.prepare.kaldi import parse_ffmpeg_pipe

log = logging.getLogger(__name__)

#: files copied unchanged from the source data dir when present
COPIED_FILES = ("trials", "spk2gender")


def output_path(wav_dir: PathLike, key: str) -> Path:
    """Where the converted audio of recording ``key`` goes."""
    if "/" in key or key in (".", ".."):
        raise SeedkitError(f"recording key {key!r} contains '/'; it cannot name a file")
    sub = hashlib.md5(key.encode("utf-8")).hexdigest()[:2]
    return Path(wav_dir) / sub / f"{key}.wav"


def job_keys(keys: list[str], job: int, nj: int) -> list[str]:
    """Part ``job`` (1-based) of ``nj`` contiguous parts of the C-sorted ``keys``."""
    if nj < 1 or not 1 <= job <= nj:
        raise SeedkitError(f"--job must be in 1..--nj, got job {job} of {nj}")
    keys = c_sorted(keys)
    n = len(keys)
    return keys[(job - 1) * n // nj: job * n // nj]


def is_done(path: Path, rate: int) -> bool:
    """True when ``path`` is a finished conversion (mono, at ``rate``)."""
    if not path.is_file():
        return False
    try:
        info = sf.info(str(path))
    except Exception:
        return False
    return info.samplerate == rate and info.channels == 1 and info.frames > 0


def need_ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise SeedkitError("ffmpeg not found on PATH; install it (apt-get install ffmpeg, or "
                           "bash tools/install.sh)")
    return exe


def already_target_format(entry: str, rate: int) -> bool:
    """True for a path to a mono 16-bit PCM wav at ``rate`` (copied instead of re-encoded)."""
    if is_pipe(entry) or not entry.lower().endswith(".wav"):
        return False
    try:
        info = sf.info(entry)
    except Exception:
        return False
    return (info.format, info.subtype, info.samplerate, info.channels, info.frames > 0) == (
        "WAV", "PCM_16", rate, 1, True)


def convert(entry: str, out: Path, rate: int, *, where: PathLike, line: int, key: str) -> None:
    """Convert one ``wav.scp`` value to a mono 16-bit wav at ``rate`` (atomic). A file already in
    that format is copied byte for byte (what ffmpeg would decode from it is the same samples)."""
    if already_target_format(entry, rate):
        with atomic_output(out) as tmp:
            shutil.copyfile(entry, tmp)
        return
    ff = [need_ffmpeg(), "-nostdin", "-loglevel", "error", "-y"]
    tail = ["-vn", "-ac", "1", "-ar", str(rate), "-acodec", "pcm_s16le", "-f", "wav"]
    with atomic_output(out) as tmp:
        if is_pipe(entry):
            cmd = entry.rstrip()[:-1].strip()
            with tempfile.TemporaryFile() as errf:
                src = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=errf)
                proc = subprocess.run(ff + ["-i", "pipe:0"] + tail + [str(tmp)],
                                      stdin=src.stdout, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
                src.stdout.close()
                status = src.wait()
                errf.seek(0)
                src_err = errf.read().decode("utf-8", "replace").strip()
            if status != 0:
                last = src_err.splitlines()[-1] if src_err else ""
                raise SeedkitError(f"{key!r}: pipe command failed with status {status}: {last}",
                                   where, line)
        else:
            if not Path(entry).is_file():
                raise SeedkitError(f"{key!r}: audio file {entry} does not exist", where, line)
            proc = subprocess.run(ff + ["-i", entry] + tail + [str(tmp)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SeedkitError(f"{key!r}: ffmpeg could not convert it ({err[-1] if err else ''})"
                               "; the audio is corrupt or not audio", where, line)
        if not is_done(Path(tmp), rate):
            raise SeedkitError(f"{key!r}: ffmpeg produced no audio; the source is empty or "
                               "corrupt", where, line)


def source_file(entry: str) -> Optional[str]:
    """The audio file a ``wav.scp`` value reads whole and unchanged but for its rate: a path, a
    resample pipe or a one-channel ``ffmpeg_pipe`` of a file; ``None`` for any other pipe."""
    if not is_pipe(entry):
        return entry.strip()
    parsed = parse_resample_pipe(entry)
    return parsed[1] if parsed is not None else parse_ffmpeg_pipe(entry)


def check_sources(dd: DataDir, keys: list[str], rate: int, source_rate: Optional[int],
                  lines: dict[str, int], in_place: bool) -> dict[str, int]:
    """Read the header of every source file of ``keys`` (and, ``in_place``, its last sample);
    refuse a file at a rate other than ``source_rate``. Returns each file's length at ``rate``
    (samples) for the keys read in place; other keys are left out."""
    where = (dd.path / "wav.scp") if dd.path else Path("wav.scp")
    lengths = {}
    for key in keys:
        path = source_file(dd.wav_scp[key])
        if path is None:
            continue
        f = InPlaceFile(os.path.abspath(path), rate, where, lines.get(key, 0), key)
        if not os.path.isfile(f.path):
            raise SeedkitError(f"{key!r}: audio file {f.path} does not exist", where,
                               lines.get(key, 0))
        try:
            info = sf.info(f.path)
        except Exception:
            info = f.info()  # raises naming the file
        if source_rate is not None and info.samplerate != source_rate:
            raise SeedkitError(f"{key!r}: {f.path} has sample rate {info.samplerate} Hz, but this "
                               f"corpus is at {source_rate} Hz; a file of another corpus or a "
                               "converted copy: replace it, or correct the corpus's rate",
                               where, lines.get(key, 0))
        if in_place and info.channels == 1:
            lengths[key] = f.check_end()
    return lengths


def in_place_entry(path: str, rate: int) -> str:
    """The ``wav.scp`` value reading ``path`` at ``rate`` where it lies: the path of a mono
    16-bit wav at ``rate`` (a path without spaces), else a resample pipe."""
    path = os.path.abspath(path)
    if already_target_format(path, rate) and not any(ch.isspace() for ch in path):
        return path
    return resample_pipe(path, rate)


def wav_scp_lines(path: Path) -> dict[str, int]:
    """``{key: line number}`` of a ``wav.scp`` (for error messages)."""
    return {ln.split(maxsplit=1)[0]: n for n, ln in iter_lines(path, "wav.scp")}


def convert_keys(dd: DataDir, keys: list[str], wav_dir: PathLike, rate: int,
                 desc: str = "resample") -> dict[str, int]:
    """Convert the recordings ``keys`` of ``dd``; returns ``{"converted": n, "skipped": m}``."""
    lines = wav_scp_lines(dd.path / "wav.scp") if dd.path else {}
    done = skipped = 0
    for key in tqdm(keys, desc=desc, unit="file", leave=False):
        out = output_path(wav_dir, key)
        if is_done(out, rate):
            skipped += 1
            continue
        convert(dd.wav_scp[key], out, rate, where=(dd.path / "wav.scp") if dd.path else "wav.scp",
                line=lines.get(key, 0), key=key)
        done += 1
    return {"converted": done, "skipped": skipped}


def resample_data_dir(src: PathLike, dest: Optional[PathLike], wav_dir: PathLike,
                      sample_rate: int = 16000, job: Optional[int] = None,
                      nj: Optional[int] = None, in_place: bool = False,
                      source_rate: Optional[int] = None,
                      check_only: bool = False) -> dict[str, int]:
    """Convert ``src``'s audio into ``wav_dir`` (``in_place``: only what cannot be read where it
    lies) and (without ``job``) write data dir ``dest``; ``check_only``: the header checks alone.
    """
    if sample_rate < 1:
        raise OptionError(Param("sample_rate", sample_rate), " is not a sample rate; give the "
                          "output rate in Hz (16000 for the speaker models)")
    src = Path(src)
    dd = validate_data_dir(src, check_files=False, check_spk_sort=False)
    if not dd.wav_scp:
        raise SeedkitError("wav.scp is empty", src / "wav.scp")
    if dest is not None and Path(dest).resolve() == src.resolve():
        raise SeedkitError("destination data dir is the source; give another directory", dest)
    if in_place and job is not None:
        raise SeedkitError("reading in place converts no files in parts; run it without a job")
    wav_dir = Path(wav_dir)
    keys = c_sorted(dd.wav_scp)
    part = keys if job is None else job_keys(keys, job, 1 if nj is None else nj)
    lines = wav_scp_lines(src / "wav.scp")
    lengths = check_sources(dd, part, sample_rate, source_rate, lines, in_place)
    if check_only:
        return {"checked": len(part)}
    if job is not None:
        stats = convert_keys(dd, part, wav_dir, sample_rate, desc=f"resample {job}/{nj}")
        log.info("job %d/%d: converted %d, already done %d", job, nj, stats["converted"],
                 stats["skipped"])
        return stats
    if dest is None:
        raise SeedkitError("no destination data dir given")
    stats = convert_keys(dd, [k for k in keys if k not in lengths], wav_dir, sample_rate)
    out = DataDir()
    out.wav_scp = OrderedDict(
        (k, in_place_entry(source_file(dd.wav_scp[k]), sample_rate) if k in lengths
         else os.path.abspath(output_path(wav_dir, k))) for k in keys)
    out.utt2spk = dd.utt2spk
    out.spk2utt = spk2utt_from_utt2spk(dd.utt2spk)
    out.segments = dd.segments
    out.extra = dict(dd.extra)
    if dd.segments is None:
        out.utt2dur = OrderedDict()
        for k in c_sorted(dd.utt2spk):
            if k in lengths:
                out.utt2dur[k] = lengths[k] / sample_rate
            else:
                info = sf.info(out.wav_scp[k])
                out.utt2dur[k] = info.frames / info.samplerate
    else:
        out.utt2dur = dd.utt2dur
    dest = Path(dest)
    write_data_dir(out, dest)
    for name in COPIED_FILES:
        if (src / name).is_file():
            with atomic_output(dest / name) as tmp:
                shutil.copyfile(src / name, tmp)
    if in_place:
        stats["in_place"] = len(lengths)
    log.info("%s -> %s: %d recordings at %d Hz (%d read in place, %d converted now, %d were "
             "done)", src, dest, len(keys), sample_rate, len(lengths), stats["converted"],
             stats["skipped"])
    return stats


__all__ = ["check_sources", "convert", "in_place_entry", "job_keys", "output_path",
           "resample_data_dir", "source_file"]
