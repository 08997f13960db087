"""Resample a data dir to mono 16-bit wav at one rate with ffmpeg (paths and ``cmd |`` pipes).

Without --job: converts whatever is not done yet and writes <dest-data> (wav.scp pointing into
<wav-dir>, utt2dur, and utt2spk/spk2utt/segments/utt2*/trials carried over). With --job J --nj N:
converts part J of N and writes no data dir (utils/resample_data_dir.sh runs the parts in parallel,
then this without --job). Finished files are skipped, so an interrupted run resumes.

With --in-place: no copies of the files soundfile reads (wav, FLAC; mono): a 16-bit wav already at
the rate keeps its path, any other becomes "seedkit-resample-wav <rate> <file> |" in wav.scp
(resampled in memory when read); only other entries are converted into <wav-dir>. --source-rate
HZ: every source file's header is read first and a file at another rate is refused (one ERROR
line naming it and its wav.scp line) before anything is converted.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.resample import resample_data_dir


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-resample-data-dir", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sample-rate", "--rate", type=int, default=16000, dest="sample_rate",
                   help="output sample rate in Hz (default: %(default)s)")
    p.add_argument("--job", type=int, default=None, help="convert only part JOB (1-based) of --nj")
    p.add_argument("--nj", type=int, default=None, help="number of parts (with --job)")
    p.add_argument("--in-place", action="store_true",
                   help="read the source files where they lie (no copies; see above)")
    p.add_argument("--source-rate", type=int, default=None, metavar="HZ",
                   help="the rate every source file must have (default: any)")
    p.add_argument("--check-only", action="store_true",
                   help="only read the source headers (with --source-rate: their rates); "
                        "write nothing")
    p.add_argument("src_data", help="source data dir (wav.scp with paths or pipes)")
    p.add_argument("dest_data", help="data dir to write (not written with --job)")
    p.add_argument("wav_dir", help="directory for the converted wav files")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    if (args.job is None) != (args.nj is None):
        get_parser().error("--job and --nj go together")
    if args.in_place and args.job is not None:
        get_parser().error("--in-place converts no parts: give it without --job/--nj")
    if args.source_rate is not None and args.source_rate <= 0:
        get_parser().error(f"--source-rate must be a positive integer, got {args.source_rate}")
    resample_data_dir(args.src_data, args.dest_data, args.wav_dir, sample_rate=args.sample_rate,
                      job=args.job, nj=args.nj, in_place=args.in_place,
                      source_rate=args.source_rate, check_only=args.check_only)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
