"""Reading audio named by a ``wav.scp`` entry: a file path or a ``cmd |`` pipe.

Audio is read with ``soundfile`` as float32 in [-1, 1]. Pipes are run with ``bash -c`` and their
stdout is parsed as a wav file, except ``seedkit-resample-wav <rate> <file> |`` (a corpus file
read where it lies, :mod:`seedkit.inplace`), which is read and resampled in process (the render
pipes of a spec-mode augmentation dir are rendered in
process by :func:`seedkit.render.read_entry`, which reads everything else through here). Checks
(each a :class:`SeedkitError`): the file exists and parses, one channel, the expected sample rate,
at least one sample.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_output
from seedkit.inplace import in_place_file


def read_audio(entry: str, expected_rate: Optional[int] = None, *, where: Optional[PathLike] = None,
               line: int = 0, key: str = "") -> tuple[np.ndarray, int]:
    """Return ``(samples float32 [N], sample_rate)`` for a wav.scp value.

    ``where``/``line`` name the wav.scp line for error messages; without them an error names
    the audio file (for a path) or quotes the command (for a pipe).
    """
    what = f"{key!r}: " if key else ""
    entry = entry.strip()
    in_place = in_place_file(entry, where, line, key)
    if in_place is not None:  # read and resampled in process, no subprocess
        check_rate(in_place.rate, expected_rate, f"{what}{entry[:-1].strip()!r}",
                   where if where is not None else in_place.path, line)
        return in_place.read(), in_place.rate
    is_pipe = entry.endswith("|")
    src = where if where is not None else (None if is_pipe else entry)
    if is_pipe:
        cmd = entry[:-1].strip()
        if where is None:
            what += f"command {cmd!r}: "
        proc = subprocess.run(["bash", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = err[-1] if err else "it wrote nothing on stderr"
            raise SeedkitError(f"{what}pipe command failed with status {proc.returncode}: "
                               f"{tail}; run the command by hand to see why", src, line)
        data = io.BytesIO(proc.stdout)
        label = "pipe output"
    else:
        if not Path(entry).is_file():
            raise SeedkitError(f"{what}audio file {entry} does not exist", src, line)
        data = entry
        label = entry
    try:
        samples, rate = sf.read(data, dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise SeedkitError(f"{what}cannot read {label} as audio ({err}); the file is corrupt or "
                           "not a sound file", src, line) from None
    if samples.shape[1] != 1:
        raise SeedkitError(f"{what}{label} has {samples.shape[1]} channels; seedkit needs mono "
                           "(convert with: ffmpeg -i in.wav -ac 1 out.wav)", src, line)
    check_rate(rate, expected_rate, f"{what}{label}", src, line)
    if samples.shape[0] == 0:
        raise SeedkitError(f"{what}{label} has no samples; remove the utterance (and run "
                           "utils/fix_data_dir.sh)", src, line)
    return samples[:, 0], int(rate)


def check_rate(rate: int, expected_rate: Optional[int], label: str,
               src: Optional[PathLike], line: int) -> None:
    """Raise unless ``rate`` is ``expected_rate`` (any rate when that is None)."""
    if expected_rate is not None and rate != expected_rate:
        raise SeedkitError(f"{label} has sample rate {rate} Hz, expected "
                           f"{expected_rate} Hz; resample first (ffmpeg -ar {expected_rate})",
                           src, line)


def write_wav(path: PathLike, samples: np.ndarray, rate: int) -> None:
    """Write 16-bit PCM mono wav atomically."""
    with atomic_output(path) as tmp:
        sf.write(str(tmp), np.asarray(samples, dtype=np.float32), rate, subtype="PCM_16",
                 format="WAV")
