"""SEED: speaker-embedding enhancement diffusion (network, schedule, training, enhancement).

Modules:
  network     the residual-MLP denoiser ``RDMMLP`` (official state-dict layout)
  schedule    the scaled-linear DDPM schedule, forward noising and the DDIM step
  diffusion   training loss (diffusion or regression objective) and enhancement (one step / DDIM)
  config      the YAML config: defaults, validation, CLI overrides, hashing
  checkpoint  seedkit checkpoints and official bare RDM-MLP state dicts
  data        cached (paired, clean) embedding pairs for training
  train       the training loop (single process or torchrun/DDP, resumable)
  enhance     enhancement of ark/scp embedding archives
  synthetic   a synthetic speaker/environment embedding testbed
"""
