"""Train the PLDA back end: mean subtraction, LDA (optional), length norm, two-covariance PLDA
(EM) on labelled embeddings. Score with ``seedkit-score --method plda --plda <plda-out>``.

  seedkit-train-plda --lda-dim 200 scp:exp/xv_train/xvector.scp data/train/utt2spk exp/plda
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from seedkit.cli import entry, parse_args
from seedkit.data.datadir import read_utt2x
from seedkit.embio import check_not_inputs, read_embedding_matrix
from seedkit.errors import SeedkitError
from seedkit.scoring.plda import save_plda, train_plda_backend

log = logging.getLogger("seedkit.bin.train_plda")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-train-plda", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lda-dim", type=int, default=0,
                   help="LDA output dimension (0 = no LDA; default 0); at most speakers - 1")
    p.add_argument("--no-length-norm", action="store_true",
                   help="skip length normalisation before PLDA")
    p.add_argument("--num-iters", type=int, default=10, help="EM iterations (default 10)")
    p.add_argument("rspecifier", help="training embeddings (vectors)")
    p.add_argument("utt2spk")
    p.add_argument("plda_out")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    if not 1 <= args.num_iters <= 10000:
        raise SeedkitError(f"--num-iters must be in 1..10000, got {args.num_iters}")
    if args.lda_dim < 0:
        raise SeedkitError(f"--lda-dim must be >= 0 (0 = no LDA), got {args.lda_dim}")
    check_not_inputs([args.plda_out], [args.rspecifier, args.utt2spk])
    keys, x = read_embedding_matrix(args.rspecifier)
    utt2spk = read_utt2x(args.utt2spk)
    have = [i for i, k in enumerate(keys) if k in utt2spk]
    if len(have) < len(keys):
        missing = [k for k in keys if k not in utt2spk]
        log.warning("%d embeddings have no speaker in %s (first: %s); not used",
                    len(missing), args.utt2spk, ", ".join(missing[:5]))
    if not have:
        raise SeedkitError("no embedding key is in utt2spk; check that they belong together",
                           args.utt2spk)
    spk = np.array([utt2spk[keys[i]] for i in have])
    backend = train_plda_backend(x[have], spk, lda_dim=args.lda_dim or None,
                                 length_norm=not args.no_length_norm, n_iter=args.num_iters)
    save_plda(backend, args.plda_out)
    log.info("%s: PLDA on %d embeddings of %d speakers, dim %d -> %d", args.plda_out, len(have),
             len(set(spk.tolist())), x.shape[1], backend.plda.mu.shape[0])
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
