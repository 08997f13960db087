"""Train a SEED diffusion model on (paired, clean) speaker embeddings: cached ones
(--clean/--noisy/--pairs), or drawn on the fly with the frozen backbone in the training loop
(--on-the-fly --train-data DIR --musan DIR --rirs DIR --backbone-config YAML: every step renders
a fresh crop and fresh music/noise/reverb copies of each drawn utterance and embeds them).

Runs as one process, or under torchrun for several (gloo on CPU, NCCL on GPU), e.g.
  torchrun --standalone --nproc_per_node=4 $(command -v seedkit-train-seed) --config C ... exp/seed
  torchrun --nnodes=2 --node_rank=R --nproc_per_node=8 --rdzv_backend=c10d \\
           --rdzv_endpoint=HOST:29400 --rdzv_id=seed1 $(command -v seedkit-train-seed) ...
Any config key can be overridden on the command line: --lr 1e-3, --batch-size 256, --epochs 5,
--ema-decay 0.999, --seed 3, ... (or --set key=value; the last value given wins). The merged
config is saved as <exp-dir>/config.yaml.
"""

from __future__ import annotations

import argparse

from seedkit.cli import add_config_options, entry, parse_args
from seedkit.seed.config import HELP, load_config_file, merge_config, parse_override
from seedkit.seed.distributed import lost_peer_error
from seedkit.seed.onthefly import check_modes, train_seed_onthefly
from seedkit.seed.train import train_seed


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-train-seed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="SEED YAML config (e.g. conf/seed_rdm_mlp3.yaml), or a SEED "
                                    "release config as shipped (configs/*_SEED_rdmmlp3.yaml)")
    cached = p.add_argument_group("cached pairs (default mode)")
    cached.add_argument("--clean", help="rspecifier of clean-utterance embeddings")
    cached.add_argument("--noisy", help="rspecifier of augmented-copy embeddings")
    cached.add_argument("--pairs",
                        help="utt2clean: '<paired-utt> <clean-utt>' per line (paired looked up "
                             "in --noisy, then --clean)")
    otf = p.add_argument_group("pairs drawn on the fly (--on-the-fly)")
    otf.add_argument("--on-the-fly", action="store_true",
                     help="render and embed every step's pairs with the frozen backbone "
                          "(docs/seed.md); excludes --clean/--noisy/--pairs")
    otf.add_argument("--train-data", help="clean training data dir (wav.scp, utt2spk)")
    otf.add_argument("--musan", help="MUSAN data dir (utt2spk value = music/noise/speech)")
    otf.add_argument("--rirs", help="RIR data dir")
    otf.add_argument("--backbone-config", help="backbone conf YAML (as seedkit-extract's)")
    otf.add_argument("--backbone-checkpoint",
                     help="backbone weights; overrides the conf's 'checkpoint'")
    otf.add_argument("--allow-random-backbone", action="store_true",
                     help="run with a random-weight backbone when it has no checkpoint (tests)")
    otf.add_argument("--crop-sec", type=float,
                     help="crop length in seconds (default 2.015, SEED's 32,240 samples)")
    otf.add_argument("--steps-per-epoch", type=int,
                     help="steps per epoch (dev EER after each; default: one pass over the "
                          "utterances)")
    otf.add_argument("--embed-batch-size", type=int,
                     help="crops per backbone forward pass (default: the conf's batch size)")
    otf.add_argument("--render-threads", type=int,
                     help="threads rendering the next step's audio while a step trains "
                          "(default 1; 0: render in the training loop)")
    otf.add_argument("--augment-conf", metavar="YAML",
                     help="augmentation policy: the copies of every draw (default: the SEED "
                          "release's music, noise, reverb; stage 3 reads the same file)")
    p.add_argument("--dev-trials", help="optional dev trial list: dev EER after every epoch")
    p.add_argument("--dev-enroll", help="rspecifier of the dev enrollment embeddings")
    p.add_argument("--dev-test", help="rspecifier of the dev test embeddings "
                                      "(default: --dev-enroll)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in <exp-dir>/checkpoints (starts "
                        "from scratch when there is none)")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N (default auto)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("exp_dir", help="output directory")
    add_config_options(p, HELP, parse_override,
                       "config keys (override --config; each checked as in a config file)")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    file_cfg, comment = load_config_file(args.config) if args.config else ({}, None)
    cfg = merge_config(file_cfg, args.config_overrides)
    onthefly = check_modes(
        args.on_the_fly, {"--clean": args.clean, "--noisy": args.noisy, "--pairs": args.pairs},
        {"--train-data": args.train_data, "--musan": args.musan, "--rirs": args.rirs,
         "--backbone-config": args.backbone_config,
         "--backbone-checkpoint": args.backbone_checkpoint,
         "--allow-random-backbone": args.allow_random_backbone, "--crop-sec": args.crop_sec,
         "--steps-per-epoch": args.steps_per_epoch, "--embed-batch-size": args.embed_batch_size,
         "--render-threads": args.render_threads, "--augment-conf": args.augment_conf})
    common = {"resume": args.resume, "device": args.device, "dev_trials": args.dev_trials,
              "dev_enroll": args.dev_enroll, "dev_test": args.dev_test,
              "config_comment": comment}
    try:
        if onthefly is None:
            train_seed(cfg, args.clean, args.noisy, args.pairs, args.exp_dir, **common)
        else:
            train_seed_onthefly(cfg, onthefly, args.exp_dir, **common)
    except RuntimeError as err:
        lost = lost_peer_error(err)
        if lost is None:
            raise
        raise lost from None
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
