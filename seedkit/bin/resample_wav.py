"""Write an audio file at another sample rate to stdout as a float32 wav.

Stage 2 of the VoxCeleb recipe (without --materialise-16k) leaves corpus files where they lie and
names those not already 16 kHz mono wav in wav.scp as
  <key> seedkit-resample-wav 16000 <file> |
so Kaldi and other tools that run wav.scp pipes read the resampled audio; seedkit reads the same
samples in process (and only a crop's span). See seedkit/inplace.py for the resampler.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.inplace import InPlaceFile, write_wav_stream


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-resample-wav", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("rate", type=int, help="output sample rate in Hz")
    p.add_argument("file", help="mono audio file soundfile reads (wav, FLAC, ...)")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    if args.rate <= 0:
        get_parser().error(f"rate must be a positive integer, got {args.rate}")
    write_wav_stream(InPlaceFile(args.file, args.rate).read(), args.rate)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
