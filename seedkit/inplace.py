"""Audio read where it lies, at another rate: the ``seedkit-resample-wav <rate> <file> |`` pipe.

Stage 2 of the VoxCeleb recipe makes no 16 kHz copies by default: a corpus file that is not
already a mono 16-bit wav at 16 kHz (a 24 kHz LibriTTS-R wav, a Libri-Light FLAC) gets the
``wav.scp`` value ``seedkit-resample-wav 16000 <file> |``. Run as a command it writes the file at
that rate as a float32 wav to stdout (so any tool that runs ``wav.scp`` pipes reads it); seedkit's
own readers recognise the pipe and read the file in process instead (no subprocess), and a crop
reads only its span plus the resampler's margin (soundfile seeks in wav and FLAC).

The resampler is ``torchaudio.functional.resample`` (windowed sinc, ``lowpass_filter_width`` 16,
``rolloff`` 0.97: the cut-off of FFmpeg's default resampler), in float32. Output sample ``k`` of a
file of ``n`` samples at rate ``r_in`` lies at time ``k / r_out``; there are
``ceil(n * r_out / r_in)`` of them (as FFmpeg writes). A span starting at input sample ``a``, a
multiple of ``r_in / gcd(r_in, r_out)``, resamples to exactly the samples the whole file gives
there once the span has the filter's width on each side (:func:`margin`).
"""

from __future__ import annotations

import io
import math
import shlex
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import soundfile as sf

from seedkit.errors import PathLike, SeedkitError

#: the console script that writes a resampled file to stdout
RESAMPLE_CMD = "seedkit-resample-wav"
#: torchaudio.functional.resample settings (see the module doc)
FILTER_WIDTH = 16
ROLLOFF = 0.97


def resample_pipe(path: str, rate: int) -> str:
    """The ``wav.scp`` value that reads ``path`` at ``rate``."""
    return f"{RESAMPLE_CMD} {int(rate)} {shlex.quote(path)} |"


def parse_resample_pipe(entry: str) -> Optional[tuple[int, str]]:
    """``(rate, path)`` of a :func:`resample_pipe` value; ``None`` for anything else."""
    entry = entry.strip()
    if not (entry.startswith(RESAMPLE_CMD + " ") and entry.endswith("|")):
        return None
    try:
        words = shlex.split(entry[:-1])
    except ValueError:
        return None
    if len(words) != 3 or words[0] != RESAMPLE_CMD or not words[1].isdigit():
        return None
    return int(words[1]), words[2]


def resampled_length(frames: int, rate_in: int, rate_out: int) -> int:
    """Samples of a file of ``frames`` samples at ``rate_in`` once resampled to ``rate_out``."""
    g = math.gcd(rate_in, rate_out)
    return -(-frames * (rate_out // g) // (rate_in // g))


def margin(rate_in: int, rate_out: int) -> int:
    """Input samples a span needs on each side to resample as the whole file does there."""
    g = math.gcd(rate_in, rate_out)
    up, down = rate_in // g, rate_out // g
    width = math.ceil(FILTER_WIDTH * up / (min(up, down) * ROLLOFF))
    return width + 2 * up


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``x`` (float32) at ``rate_out``; ``x`` itself when the rates agree."""
    if rate_in == rate_out:
        return x
    # torch takes seconds to import; only audio at another rate needs it
    import torch
    import torchaudio.functional as taf

    y = taf.resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), rate_in,
                     rate_out, lowpass_filter_width=FILTER_WIDTH, rolloff=ROLLOFF)
    return y.numpy()


@dataclass
class InPlaceFile:
    """A file read at ``rate`` (its own rate may differ); errors name ``where:line``."""

    path: str
    rate: int
    where: Optional[PathLike] = None
    line: int = 0
    key: str = ""

    def _fail(self, what: str) -> SeedkitError:
        who = f"{self.key!r}: " if self.key else ""
        return SeedkitError(f"{who}{what}", self.where if self.where is not None else self.path,
                            self.line)

    def info(self) -> sf._SoundFileInfo:
        """The file's header; refuses an unreadable or multi-channel file."""
        try:
            info = sf.info(self.path)
        except Exception as err:  # LibsndfileError, RuntimeError
            raise self._fail(f"cannot read {self.path} as audio ({err}); the file is corrupt or "
                             "not a sound file: replace it or remove its line") from None
        if info.channels != 1:
            raise self._fail(f"{self.path} has {info.channels} channels; reading in place "
                             "takes mono files (give --materialise-16k true to convert them)")
        if info.frames <= 0:
            raise self._fail(f"{self.path} has no samples; remove the utterance (and run "
                             "utils/fix_data_dir.sh)")
        return info

    def length(self) -> int:
        """Samples at ``rate``."""
        info = self.info()
        return resampled_length(info.frames, info.samplerate, self.rate)

    def read(self, start: int = 0, frames: Optional[int] = None) -> np.ndarray:
        """Samples ``[start, start + frames)`` at ``rate`` (float32): the span of the file plus
        the resampler's margin, resampled. A span beyond the end is refused."""
        info = self.info()
        n_in, r_in = info.frames, info.samplerate
        n = resampled_length(n_in, r_in, self.rate)
        frames = n - start if frames is None else frames
        if start < 0 or frames < 0 or start + frames > n:
            raise self._fail(f"crop [{start}, {start + frames}) lies beyond the end of "
                             f"{self.path} ({n} samples at {self.rate} Hz); the data dir's "
                             "durations do not match the file: prepare the corpus again")
        g = math.gcd(r_in, self.rate)
        up, down = r_in // g, self.rate // g
        m = 0 if r_in == self.rate else margin(r_in, self.rate)
        # first input sample: a multiple of `up`, so the output grid stays the whole file's
        a = max(0, (start * up // down - m) // up * up)
        b = min(n_in, -(-(start + frames) * up // down) + m)
        x = self._read_span(a, b - a)
        y = resample(x, r_in, self.rate)
        off = start - a * down // up
        return y[off:off + frames]

    def _read_span(self, start: int, frames: int) -> np.ndarray:
        try:
            x, _ = sf.read(self.path, start=start, frames=frames, dtype="float32",
                           always_2d=True)
        except Exception as err:
            raise self._fail(f"cannot read {self.path} ({err}); the file is corrupt: replace "
                             "it or remove its line") from None
        if len(x) != frames:
            raise self._fail(f"{self.path} ends at sample {start + len(x)}, before the "
                             f"{start + frames} its header promises; the file is truncated: "
                             "replace it or remove its line")
        return x[:, 0]

    def check_end(self) -> int:
        """Header checks and a read of the file's last sample (a seek: cheap in wav and FLAC),
        so a truncated file is refused before any long work; returns the length at ``rate``."""
        info = self.info()
        self._read_span(info.frames - 1, 1)
        return resampled_length(info.frames, info.samplerate, self.rate)


def write_wav_stream(samples: np.ndarray, rate: int, out=None) -> None:
    """``seedkit-resample-wav``: ``samples`` as a float32 wav on ``out`` (stdout)."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(samples, dtype=np.float32), rate, subtype="FLOAT", format="WAV")
    stream = out if out is not None else sys.stdout.buffer
    stream.write(buf.getvalue())
    stream.flush()


def in_place_file(entry: str, where: Optional[PathLike] = None, line: int = 0,
                  key: str = "") -> Optional[InPlaceFile]:
    """The :class:`InPlaceFile` of a :func:`resample_pipe` value; ``None`` for anything else."""
    parsed = parse_resample_pipe(entry)
    if parsed is None:
        return None
    return InPlaceFile(parsed[1], parsed[0], where, line, key)


__all__ = [
    "FILTER_WIDTH",
    "InPlaceFile",
    "RESAMPLE_CMD",
    "ROLLOFF",
    "in_place_file",
    "margin",
    "parse_resample_pipe",
    "resample",
    "resample_pipe",
    "resampled_length",
    "write_wav_stream",
]
