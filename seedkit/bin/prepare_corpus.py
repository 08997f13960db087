"""Prepare one corpus: lhotse prepare_* -> lhotse manifests -> Kaldi data dirs (+ trial lists).

Corpora (the directory to give, as seedkit-download-corpus leaves it) and the data dirs written
under <data-root>:
  voxceleb1       <corpora>/voxceleb1         voxceleb1_test (+ trials: VoxCeleb1-O cleaned from
                                              veri_test2.txt or --trials), voxceleb1_dev
  librittsr       <corpora>/LibriTTS_R        librittsr_<part> for each --parts
  librilight      <corpora>/librilight        librilight_small (one utterance per file, or per
                                              voice-activity segment with --segments)
  musan           <corpora>/musan             musan (utt2spk = category), musan_{music,noise,speech}
  rirs_noises     <corpora>/RIRS_NOISES       rirs (simulated RIRs; --parts adds real_rir, ...)
  voxconverse_sv  <corpora>/voxconverse_test_SV  voxconverse_sv (+ trials from
                                              trials_wo_overlap.txt)
The data dirs point at the original audio; seedkit-resample-data-dir makes 16 kHz wav copies.
A corpus already prepared into <data-root> is skipped unless --force.
"""

from __future__ import annotations

import argparse

from seedkit.cli import entry, parse_args
from seedkit.errors import SeedkitError
from seedkit.prepare import corpora

CORPORA = ("voxceleb1", "librittsr", "librilight", "musan", "rirs_noises", "voxconverse_sv")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedkit-prepare-corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nj", type=int, default=1, help="parallel lhotse workers (default: 1)")
    p.add_argument("--manifests", default=None,
                   help="where to save the lhotse manifests (default: <data-root>/manifests)")
    p.add_argument("--trials", default=None,
                   help="voxceleb1: trial list (default: <corpus-dir>/veri_test2.txt); "
                        "voxconverse_sv: default <corpus-dir>/trials_wo_overlap.txt")
    p.add_argument("--parts", nargs="+", default=None,
                   help="librittsr: parts (default: train-clean-100 train-clean-360); "
                        "rirs_noises: sim_rir real_rir iso_noise point_noise (default: sim_rir)")
    p.add_argument("--segments", action="store_true",
                   help="librilight: one utterance per voice-activity segment")
    p.add_argument("--force", action="store_true", help="prepare again even if done")
    p.add_argument("corpus", choices=CORPORA)
    p.add_argument("corpus_dir")
    p.add_argument("data_root")
    return p


def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    c, d = args.corpus_dir, args.data_root
    kw = {"manifests": args.manifests, "force": args.force}
    if args.nj < 1:
        raise SeedkitError(f"--nj {args.nj}: give at least 1 parallel worker")
    if args.parts and args.corpus not in ("librittsr", "rirs_noises"):
        raise SeedkitError(f"--parts does not apply to {args.corpus}")
    if args.corpus == "voxceleb1":
        written = corpora.prepare_voxceleb1(c, d, trials=args.trials, num_jobs=args.nj, **kw)
    elif args.corpus == "librittsr":
        parts = tuple(args.parts or ("train-clean-100", "train-clean-360"))
        written = corpora.prepare_librittsr(c, d, parts=parts, num_jobs=args.nj, **kw)
    elif args.corpus == "librilight":
        written = corpora.prepare_librilight(c, d, num_jobs=args.nj, segments=args.segments,
                                             **kw)
    elif args.corpus == "musan":
        written = corpora.prepare_musan(c, d, **kw)
    elif args.corpus == "rirs_noises":
        written = corpora.prepare_rirs(c, d, parts=tuple(args.parts or ("sim_rir",)), **kw)
    else:
        written = corpora.prepare_voxconverse_sv(c, d, trials=args.trials, **kw)
    print(" ".join(written))
    return 0


console_main = entry(main)
if __name__ == "__main__":
    console_main()
