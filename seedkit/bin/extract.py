"""Extract speaker embeddings for a Kaldi data directory into an ark/scp archive.

Example (SEED evaluation protocol, 10 crops of 4.015 s per utterance, one matrix each):
  seedkit-extract --config conf/resnetse34v2.yaml --crop multi:10:4.015 data/eval \\
      ark,scp:exp/xv/xvector.1.ark,exp/xv/xvector.1.scp
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.errors import SeedkitError
from seedkit.extract import extract_data_dir


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-extract", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=None,
                   help="backbone conf YAML (model, model_args, sample_rate, embed_dim, "
                        "checkpoint, ...); default: GE2E with the resemblyzer weights")
    p.add_argument("--checkpoint", default=None,
                   help="weights file; overrides the conf's 'checkpoint' ('resemblyzer' = the "
                        "GE2E file of the resemblyzer package)")
    p.add_argument("--crop", default=None,
                   help="full | random:SEC | multi:N:SEC (default: the conf's 'crop', else full)")
    p.add_argument("--seed", type=int, default=0, help="seed of random:SEC crops (default 0)")
    p.add_argument("--device", default=None,
                   help="auto|cpu|cuda|cuda:N (default auto: cuda when available)")
    p.add_argument("--job-index", type=int, default=None,
                   help="1-based index of this parallel job (utils/extract_embeddings.sh passes "
                        "JOB): with --device cuda (or the default) on a machine with several "
                        "GPUs, job j runs on cuda:(j-1) mod GPUs")
    p.add_argument("--batch-size", type=int, default=None,
                   help="crops per forward pass for random/multi crops (default: conf, 32)")
    p.add_argument("--num-threads", type=int, default=0,
                   help="torch CPU threads (default 0: torch's default)")
    p.add_argument("--read-threads", type=int, default=2,
                   help="threads reading (for spec-mode augmentation dirs: rendering) the audio "
                        "ahead of the backbone (default 2)")
    p.add_argument("--allow-random-weights", action="store_true",
                   help="run with random weights when no checkpoint is available (tests only)")
    p.add_argument("--skip-if-complete", action="store_true",
                   help="do nothing when the ark,scp output already holds every utterance")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("data_dir", help="Kaldi data directory (wav.scp, utt2spk, [segments])")
    p.add_argument("wspecifier", help="output, e.g. ark,scp:xvector.ark,xvector.scp")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)

    if args.batch_size is not None and args.batch_size < 1:
        raise SeedkitError("--batch-size must be >= 1")
    if args.read_threads < 1:
        raise SeedkitError(f"--read-threads must be >= 1, got {args.read_threads}")
    if args.num_threads > 0:
        # imported here: torch takes 3-4 s, which a --skip-if-complete rerun of a finished job
        # (it returns before building the model) would pay for nothing
        import torch

        torch.set_num_threads(args.num_threads)
    extract_data_dir(args.data_dir, args.wspecifier, args.config, checkpoint=args.checkpoint,
                     crop=args.crop, seed=args.seed, device=args.device,
                     allow_random_weights=args.allow_random_weights,
                     batch_size=args.batch_size, skip_if_complete=args.skip_if_complete,
                     progress=not args.no_progress, job_index=args.job_index,
                     read_threads=args.read_threads)
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
