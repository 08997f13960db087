"""What every corpus module of :mod:`seedkit.prepare` shares: input checks, calling lhotse
(naming the unreadable file when a recipe fails), atomic manifest writing, whole-file
supervisions, trial conversion and the ``.prepared_<name>`` stamps that let a re-run skip a
prepared corpus.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Optional

import soundfile as sf

from seedkit.data.datadir import DataDir
from seedkit.data.trials import Trial, read_trials, write_trials
from seedkit.errors import PathLike, SeedkitError, writing
from seedkit.fileio import atomic_output, write_lines

# lhotse is imported in the two functions that build lhotse objects: importing it takes seconds
# and seedkit-make-vcmix (which uses the trial helpers here) never needs it

log = logging.getLogger(__name__)


@contextlib.contextmanager
def patched(obj, name: str, value) -> Iterator[None]:
    """Temporarily replace ``obj.name`` (used to steer lhotse recipes around their quirks)."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def need_dir(path: PathLike, what: str, hint: str) -> Path:
    """``path`` as a :class:`Path`; a :class:`SeedkitError` (``<what> not found; <hint>``) if it
    is not a directory."""
    path = Path(path)
    if not path.is_dir():
        raise SeedkitError(f"{what} not found; {hint}", path)
    return path


def need_file(path: PathLike, what: str, hint: str) -> Path:
    """As :func:`need_dir`, for a file."""
    path = Path(path)
    if not path.is_file():
        raise SeedkitError(f"{what} not found; {hint}", path)
    return path


def find_unreadable(files: Iterable[Path]) -> None:
    """Raise a :class:`SeedkitError` naming the first file soundfile cannot open."""
    for f in files:
        try:
            sf.info(str(f))
        except Exception as err:  # LibsndfileError, RuntimeError
            raise SeedkitError(f"cannot read audio file ({err}); it is corrupt or not audio: "
                               "replace or delete it", f) from None


def run_lhotse(what: str, corpus_dir: Path, pattern: str, fn, *args, **kw):
    """Call a lhotse function; on failure name the unreadable file if there is one."""
    try:
        return fn(*args, **kw)
    except SeedkitError:
        raise
    except Exception as err:
        find_unreadable(sorted(corpus_dir.rglob(pattern)))
        raise SeedkitError(f"lhotse {what} failed: {type(err).__name__}: {err}",
                           corpus_dir) from err


def save_manifests(manifest_dir: PathLike, name: str, part: str, recordings,
                   supervisions=None) -> None:
    """Write lhotse manifests to ``<manifest_dir>/<name>_{recordings,supervisions}_<part>``."""
    out = Path(manifest_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_manifest(recordings, out / f"{name}_recordings_{part}.jsonl.gz")
    if supervisions is not None:
        _save_manifest(supervisions, out / f"{name}_supervisions_{part}.jsonl.gz")


def _save_manifest(manifest, path: Path) -> None:
    """``manifest.to_file(path)`` under a temporary name (atomic: a full disk leaves nothing)."""
    with atomic_output(path) as tmp:
        # lhotse picks the format from the suffix: keep ".jsonl.gz" on the temporary
        real = tmp.with_name(tmp.name[:-len(".tmp")] + ".jsonl.gz")
        try:
            with writing(path, real):
                manifest.to_file(real)
            os.replace(real, tmp)
        finally:
            real.unlink(missing_ok=True)


def whole_supervisions(recordings, speaker_of):
    """One supervision per recording covering all of it (for corpora without speakers' sups)."""
    from lhotse import SupervisionSegment, SupervisionSet

    return SupervisionSet.from_segments(
        SupervisionSegment(id=r.id, recording_id=r.id, start=0.0, duration=r.duration,
                           speaker=speaker_of(r)) for r in recordings)


def recordings_from_files(files: Iterable[tuple[str, Path]]):
    """A ``RecordingSet`` from ``(recording_id, path)`` pairs (``Recording.from_file``), naming
    an unreadable file in the error."""
    from lhotse import Recording, RecordingSet

    recs = []
    for rid, path in files:
        try:
            recs.append(Recording.from_file(path, recording_id=rid))
        except Exception as err:
            raise SeedkitError(f"cannot read audio file ({type(err).__name__}: {err}); it is "
                               "corrupt or not audio: replace or delete it", path) from None
    return RecordingSet.from_recordings(recs)


def convert_trials(src: PathLike, dd: DataDir, out: PathLike) -> list[Trial]:
    """Read trials (VoxCeleb or Kaldi form), check their keys are in ``dd``, write Kaldi form."""
    trials = read_trials(src)
    check_trial_keys(trials, dd, src)
    write_trials(out, trials)
    return trials


def check_trial_keys(trials: list[Trial], dd: DataDir, src: PathLike) -> None:
    """Raise naming the first trial (file and line) whose key is not an utterance of ``dd``."""
    have = set(dd.utt2spk)
    for n, t in enumerate(trials, start=1):
        for key in (t.enroll, t.test):
            if key not in have:
                raise SeedkitError(f"trial key {key!r} is not an utterance of {dd.path}; the "
                                   "trial list and the corpus do not match (incomplete "
                                   "corpus, or a list of another corpus)", src, n)


def mark_prepared(data_root: Path, name: str, dirs: list[str]) -> None:
    """Write the stamp ``<data_root>/.prepared_<name>`` listing the data dirs written."""
    write_lines(data_root / f".prepared_{name}", dirs)


def prepared_dirs(data_root: Path, name: str, force: bool) -> Optional[list[str]]:
    """The data dirs of an earlier preparation of ``name`` whose ``wav.scp`` files all exist
    (``None`` with ``force``, without a stamp, or when one is missing)."""
    stamp = data_root / f".prepared_{name}"
    if force or not stamp.is_file():
        return None
    dirs = stamp.read_text().split()
    if all((data_root / d / "wav.scp").is_file() for d in dirs):
        log.info("%s already prepared in %s (%s); skipping (use --force to redo)", name,
                 data_root, " ".join(dirs))
        return dirs
    return None


__all__ = [
    "check_trial_keys",
    "convert_trials",
    "find_unreadable",
    "mark_prepared",
    "need_dir",
    "need_file",
    "patched",
    "prepared_dirs",
    "recordings_from_files",
    "run_lhotse",
    "save_manifests",
    "whole_supervisions",
]
