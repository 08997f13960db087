"""SEED's training pairs: --rounds K rounds per clean utterance, each a seeded --crop-sec crop
(<out-clean-crops-dir>; with --fresh-crops false one crop shared by every round) and its
{music 5-15 dB, noise 0-15 dB, reverb} copies (<out-aug-dir>, with utt2clean listing every pair
including the identity ones, and utt2env).

By default (--materialise false) no audio is written: both dirs get render.spec (one line per
key: crop, kind, source, offset, SNR) and render.sources, and wav.scp lines
"<key> seedkit-render-wav <dir>/render.spec <key> |" that seedkit-extract renders in memory
(other tools run the pipe). --materialise true writes every waveform as a wav (and augment.info).

--musan is a data dir of raw MUSAN files whose utt2spk value is the category (music, noise,
speech), as seedkit-prepare-corpus writes data/musan; --rirs a data dir of RIRs (data/rirs).
Deterministic from --seed whatever the job split; with --job J --nj N only part J's wavs are made
and no data dir is written (utils/augment_data_dir.sh runs the parts, then this without --job).
Existing wavs are kept, so an interrupted run resumes.

--augment-conf YAML picks the copies of every crop (an augmentation policy, docs/training_pairs.md:
pair types, SNR ranges, sources, compound reverb+noise, babble, rounds); without it the SEED
release's {music 5-15 dB, noise 0-15 dB, reverb} (conf/augment_release.yaml, byte-identical).
"""

from __future__ import annotations

import argparse

from seedkit.augment import augment_data_dir
from seedkit.augment_policy import load_policy
from seedkit.cli import entry, parse_args, true_false


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-augment-data-dir", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=None,
                   help="K: rounds of a crop and its copies per utterance (default: the policy's "
                        "rounds, 1 for the release's)")
    p.add_argument("--augment-conf", default=None, metavar="YAML",
                   help="augmentation policy (default: the SEED release's music, noise, reverb)")
    p.add_argument("--crop-sec", type=float, default=2.015,
                   help="crop length in seconds (default: 2.015 = 32,240 samples at 16 kHz)")
    p.add_argument("--seed", type=int, default=0, help="seed of every draw (default: 0)")
    p.add_argument("--musan", required=True, help="MUSAN data dir (utt2spk = category)")
    p.add_argument("--rirs", required=True, help="RIR data dir (simulated RIRs)")
    p.add_argument("--sample-rate", type=int, default=16000,
                   help="rate of every input, in Hz (default: 16000)")
    p.add_argument("--wav-subtype", choices=("PCM_16", "FLOAT"), default="PCM_16",
                   help="output sample format (default: PCM_16, scaled down only if it would "
                        "clip; FLOAT keeps exact samples)")
    p.add_argument("--materialise", type=true_false, default=False, metavar="true|false",
                   help="write every waveform as a wav file (default: false: render.spec and "
                        "render pipes only, rendered at extraction time)")
    p.add_argument("--fresh-crops", type=true_false, default=True, metavar="true|false",
                   help="a fresh crop per round, keys <utt>-clean<k> (default: true); false: "
                        "one crop per utterance (key <utt>) shared by every round")
    p.add_argument("--job", type=int, default=None, help="make only part JOB (1-based) of --nj")
    p.add_argument("--nj", type=int, default=None, help="number of parts (with --job)")
    p.add_argument("clean_data_dir")
    p.add_argument("out_clean_crops_dir")
    p.add_argument("out_aug_dir")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    if (args.job is None) != (args.nj is None):
        get_parser().error("--job and --nj go together")
    policy = load_policy(args.augment_conf)
    augment_data_dir(args.clean_data_dir, args.out_clean_crops_dir, args.out_aug_dir,
                     musan=args.musan, rirs=args.rirs,
                     rounds=policy.rounds if args.rounds is None else args.rounds,
                     crop_sec=args.crop_sec, seed=args.seed, sample_rate=args.sample_rate,
                     job=args.job, nj=args.nj, subtype=args.wav_subtype,
                     materialise=args.materialise, fresh_crops=args.fresh_crops, policy=policy)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
