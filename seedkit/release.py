"""The SEED release's YAML configs (kaistmm/seed-pytorch ``configs/*.yaml``) read as they are.

A release config is one flat file for both the frozen backbone and the diffusion model
(``backbone: ResNetSE34V2``, ``nOut: 512``, ``diffusion_num_layers: 3``, ``sample_timesteps:
50``, ...). seedkit splits it: :func:`map_seed_config` gives the SEED keys
(``seedkit-train-seed``, ``seedkit-enhance``, the recipe's ``--seed-conf``) and
:func:`map_backbone_config` the backbone conf keys (``seedkit-extract``, ``--backbone-conf``).
Every key of the release has one of four fates (:data:`SEED_TABLE`, docs/seed.md):

* **mapped** onto a seedkit key (``diffusion_num_layers`` -> ``num_res_blocks``, ...);
* **checked**: the value the release's SEED runs use is the only one seedkit implements
  (``predict_type: sample``, ``self_cond: True``, ...), any other value is refused, since it
  would silently give other results;
* **ignored** with one warning line: the key has no meaning for cached embeddings
  (``train_list``, ``nPerSpeaker``, ``trainfunc``, ...);
* **used by the other half** (a backbone key in a SEED role and the reverse): listed on the
  mapping's log line, nothing else.

A key this table does not know is refused (the release warned and went on; seedkit does not let a
typo fall back to a default). The release's own quirks (docs/method.md §11): the backbone key is
``backbone``, and the release ignored ``model:`` and built its default ECAPA_TDNN (its ResNet
baseline config hits this); here ``model:`` names the backbone, with a warning. Keys the ECAPA
SEED config leaves out take the release's argparse defaults: ``batch_size`` 200 utterances,
``train_timesteps`` 1000, ``sample_timesteps`` 50; ``max_epoch`` 300 (which ran 301 epochs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from seedkit.errors import PathLike, SeedkitError

log = logging.getLogger("seedkit.release")

#: Keys only a release config has (a file with one of them is read as a release config).
MARKERS = frozenset({
    "backbone", "nOut", "n_mels", "log_input", "encoder_type", "C", "nPerSpeaker", "trainfunc",
    "pretrained_backbone_model", "train_diffusion", "diffusion_network", "diffusion_pipeline",
    "diffusion_num_layers", "sample_timesteps", "self_cond", "conditional_diffusion",
    "predict_type", "normalize_type", "lr_decay", "lr_decay_interval", "max_epoch",
    "training_clamp_norm", "sampling_clamp_norm", "sampling_final_norm", "use_ddim",
    "train_list", "test_list", "extra_test_list", "train_path", "test_path", "ptimizer",
    "use_speaker_label", "initial_model", "pretrained_speaker_model",
})
#: Pairs of (clean crop + 3 augmented copies) per training utterance in the release.
PAIRS_PER_UTTERANCE = 4
#: The release's argparse defaults for keys its ECAPA SEED config leaves out.
RELEASE_DEFAULTS = {"batch_size": 200, "train_timesteps": 1000, "sample_timesteps": 50,
                    "max_epoch": 300, "backbone": "ECAPA_TDNN"}
#: Backbones of the release seedkit implements (release name -> seedkit registry name).
BACKBONES = {"ResNetSE34V2": "ResNetSE34V2", "ECAPA_TDNN": "ECAPA_TDNN"}
#: Release checkpoint file names (README and the files actually shipped).
RELEASE_BACKBONE_FILES = {"ResNetSE34V2": ("official_resnetse34V2.model",),
                          "ECAPA_TDNN": ("official_ecapatdnn.model", "official_ecapa_tdnn.model")}
RELEASE_SEED_FILES = {"ResNetSE34V2": "resnet34V2_SEED_evalseed_2690.model",
                      "ECAPA_TDNN": "ecapa_SEED_evalseed_898.model"}
#: Evaluation seed of each release SEED checkpoint (its README's --seed).
RELEASE_EVAL_SEEDS = {"resnet34V2_SEED_evalseed_2690.model": 2690,
                      "ecapa_SEED_evalseed_898.model": 898}

# Keys with no meaning for seedkit's cached-embedding training or for enhancement: one warning.
IGNORED = {
    "nPerSpeaker": "utterances per speaker in a batch (SEED uses no speaker labels)",
    "trainfunc": "the backbone's training loss (the backbone is frozen)",
    "use_speaker_label": "speaker labels (SEED uses none; the release ignored the key too)",
    "ptimizer": "a misspelt key the release ignored too",
    "train_list": "the release's wav manifest (seedkit trains on the recipe's data dirs)",
    "test_list": "the release's trial list (the recipe's --test-sets / --vox1-trials)",
    "extra_test_list": "the release's VC-Mix list (the recipe's --test-sets)",
    "train_path": "the release's audio root",
    "test_path": "the release's audio root",
    "musan_path": "the release's MUSAN root (the recipe's --musan-on-disk)",
    "rir_path": "the release's RIR root (the recipe's --rirs-noises-on-disk)",
    "lr_decay_interval": "StepLR interval (no effect with lr_decay 1)",
    "lr_decay_start": "LR decay start (no effect with lr_decay 1)",
    "test_interval": "the release's per-epoch evaluation (seedkit-train-seed --dev-trials)",
    "save_path": "the release's output dir (seedkit writes the exp dir it is given)",
    "wandb": "logging to Weights & Biases",
    "gpu": "the release's GPU index (--device)",
    "nDataLoaderThread": "data loader threads",
    "augment": "the release always augments (the recipe's stage 3)",
    "eval": "the release's evaluation switch (the recipe's stages)",
    "sampling_final_norm": "re-normalising the output (seedkit's scorers L2-normalise anyway)",
}


@dataclass
class ReleaseMapping:
    """The outcome of mapping one release file: seedkit keys and what happened to each key."""

    path: Optional[Path]
    role: str  # "SEED" | "backbone"
    values: dict[str, Any] = field(default_factory=dict)
    mapped: list[str] = field(default_factory=list)      # "nOut -> embed_dim=512"
    defaults: list[str] = field(default_factory=list)    # "batch_size (absent) -> ..."
    ignored: list[str] = field(default_factory=list)     # keys warned about
    other: list[str] = field(default_factory=list)       # keys of the other half

    def summary(self) -> str:
        parts = [f"release {self.role} config {self.path}: " + "; ".join(self.mapped)]
        if self.defaults:
            parts.append("release defaults: " + "; ".join(self.defaults))
        if self.other:
            parts.append(("backbone keys (not used here): " if self.role == "SEED"
                          else "SEED keys (not used here): ") + ", ".join(self.other))
        if self.ignored:
            parts.append("ignored: " + ", ".join(self.ignored))
        return " | ".join(parts)

    def comment(self) -> str:
        """The mapping as YAML comment lines (written at the top of an exp dir's config)."""
        lines = [f"# read from the SEED release config {self.path}; mapping:"]
        lines += [f"#   {m}" for m in self.mapped + [d + " (release default)"
                                                    for d in self.defaults]]
        if self.other:
            lines.append("#   not used here: " + ", ".join(self.other))
        if self.ignored:
            lines.append("#   ignored: " + ", ".join(self.ignored))
        return "\n".join(lines) + "\n"


_logged: set[tuple[str, str]] = set()


def log_once(m: ReleaseMapping) -> None:
    """Log the mapping (and its warnings) once per file and role in this process."""
    key = (str(m.path), m.role)
    if key in _logged:
        return
    _logged.add(key)
    for k in m.ignored:
        if (str(m.path), "ignored:" + k) not in _logged:  # once per key, whatever the role
            _logged.add((str(m.path), "ignored:" + k))
            log.warning("%s: release key %r ignored: %s", m.path, k,
                        IGNORED.get(k, "not used here"))
    log.info("%s", m.summary())


def is_release_config(data: Mapping[str, Any]) -> bool:
    return any(k in MARKERS for k in data)


def _bool(v: Any) -> Optional[bool]:
    """The release's YAML booleans (also the strings its argparse would have made)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    return None


def _num(v: Any, kind: Callable = float) -> Optional[float]:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return kind(v) if kind is float or float(v).is_integer() else None
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
        return kind(f) if kind is float or f.is_integer() else None
    return None


def _bad(data: Mapping[str, Any], key: str, msg: str, path, lines) -> SeedkitError:
    """The error for a release key whose value seedkit cannot honour."""
    return SeedkitError(f"release key {key}: {data.get(key)!r}: {msg}", path, lines.get(key, 0))


def _whole(v: Any, least: int, bad: Callable[[str, str], SeedkitError], key: str,
           msg: str = "must be a positive integer") -> int:
    """``v`` as a whole number >= ``least``; else raises ``bad(key, msg)``."""
    n = _num(v, int)
    if n is None or n < least:
        raise bad(key, msg)
    return int(n)


def _own_keys(data: Mapping[str, Any], m: ReleaseMapping, other_half: tuple[str, ...],
              skip: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """The ``(key, value)`` items of ``data`` one half maps: the keys in ``skip`` are passed over,
    the ignored ones go to ``m.ignored`` and those of ``other_half`` to ``m.other``."""
    for key, v in data.items():
        if key in skip:
            continue
        if key in IGNORED:
            m.ignored.append(key)
        elif key in other_half:
            m.other.append(key)
        else:
            yield key, v


def backbone_name(data: Mapping[str, Any], path, lines, warn: bool = True) -> str:
    """The backbone a release config means: ``backbone:``, else ``model:`` (the release's own
    bug: it ignored ``model:``), else the release default ECAPA_TDNN."""
    b, m = data.get("backbone"), data.get("model")
    if b is not None and m is not None and b != m:
        raise SeedkitError(f"backbone: {b} and model: {m} disagree; the release builds "
                           "'backbone' and ignores 'model': drop one", path,
                           lines.get("model", 0))
    name = b if b is not None else m
    if name is None:
        name = RELEASE_DEFAULTS["backbone"]
    elif (b is None and warn and name != RELEASE_DEFAULTS["backbone"]
          and (str(path), "model-key") not in _logged):
        _logged.add((str(path), "model-key"))
        log.warning("%s: 'model: %s' taken as the backbone; the release reads only 'backbone:' "
                    "and would have built its default ECAPA_TDNN here (docs/method.md §11)",
                    path, name)
    key = "backbone" if b is not None else "model"
    if name not in BACKBONES:
        raise SeedkitError(f"unknown backbone {name!r} in the release config; seedkit has the "
                           f"release's {', '.join(BACKBONES)} (any other backbone needs a "
                           "seedkit conf, docs/backbones.md)", path, lines.get(key, 0))
    return BACKBONES[str(name)]


# ------------------------------------------------------------------------------- SEED half
#: Release keys of the backbone half (not used by the SEED half).
BACKBONE_KEYS = ("backbone", "model", "log_input", "encoder_type", "C", "n_mels",
                 "pretrained_backbone_model", "max_frames", "eval_frames", "num_eval",
                 "pretrained_speaker_model")
#: Release keys of the SEED half (not used by the backbone half).
SEED_KEYS = ("train_diffusion", "diffusion_network", "diffusion_pipeline",
             "diffusion_num_layers", "lr", "lr_decay", "optimizer", "weight_decay",
             "train_timesteps", "sample_timesteps", "conditional_diffusion", "predict_type",
             "self_cond", "normalize_type", "training_clamp_norm", "sampling_clamp_norm",
             "clamp_scale", "use_ddim", "feature_ensemble", "ema", "max_epoch", "seed",
             "batch_size", "num_layers")


#: The release's SEED keys that seedkit accepts with one value only, the one it implements:
#: key -> (that value, what it means in seedkit, why another value is refused).
FIXED_SEED_KEYS: dict[str, tuple[Union[bool, int, str], str, str]] = {
    "train_diffusion": (True, "SEED", "this is a release *baseline* config (no diffusion model); "
                        "seedkit-train-seed/-enhance need a SEED config (train_diffusion: True), "
                        "the baseline is the recipe's 'baseline' row"),
    "diffusion_network": ("rdm_mlp", "RDM-MLP", "seedkit implements the release's rdm_mlp only"),
    "lr_decay": (1, "constant lr", "seedkit trains with a constant learning rate (the release's "
                 "lr_decay: 1); a decaying schedule would give other weights"),
    "conditional_diffusion": (False, "unconditional", "conditional diffusion (a context branch) "
                              "is not in SEED or seedkit; only False is accepted"),
    "predict_type": ("sample", "x0 prediction", "seedkit's SEED predicts x0 ('sample'); another "
                     "target would train a different model"),
    "self_cond": (True, "paired embedding noised, clean target", "seedkit noises the paired "
                  "(noisy) embedding and targets the clean one, the release's self_cond: True; "
                  "False would train a plain clean denoiser"),
    "normalize_type": ("l2", "L2", "seedkit normalises with L2 (the release's l2); meanstd is "
                       "not implemented"),
}


def _is(v: Any, want: Union[bool, int, str]) -> bool:
    """``v`` read as the release reads a value of ``want``'s kind, equal to ``want``."""
    if isinstance(want, bool):
        return _bool(v) is want
    if isinstance(want, int):
        return _num(v) == want
    return v == want


def map_seed_config(data: Mapping[str, Any], path: Optional[PathLike] = None,
                    lines: Optional[Mapping[str, int]] = None) -> ReleaseMapping:
    """Release config -> seedkit SEED keys (unchecked values; the caller checks them)."""
    p = None if path is None else Path(path)
    lines = lines or {}
    m = ReleaseMapping(p, "SEED")
    out = m.values

    def bad(key: str, msg: str) -> SeedkitError:
        return _bad(data, key, msg, p, lines)

    for key, v in _own_keys(data, m, BACKBONE_KEYS):
        if key in FIXED_SEED_KEYS:
            want, meaning, why = FIXED_SEED_KEYS[key]
            if not _is(v, want):
                raise bad(key, why)
            m.mapped.append(f"{key}: {want} -> ({meaning})")
        elif key == "nOut":
            n = _whole(v, 1, bad, key, "must be a positive integer (the embedding size)")
            out["embed_dim"] = n
            m.mapped.append(f"nOut: {v} -> embed_dim: {n}")
        elif key == "diffusion_pipeline":
            if v != "ddpm":
                raise bad(key, "seedkit implements the release's ddpm pipeline only")
            m.mapped.append("diffusion_pipeline: ddpm -> objective: diffusion")
            out["objective"] = "diffusion"
        elif key == "diffusion_num_layers":
            n = _whole(v, 1, bad, key)
            out["num_res_blocks"] = n
            m.mapped.append(f"diffusion_num_layers: {v} -> num_res_blocks: {n}")
        elif key == "num_layers":
            # the README's name: main.py has no such option and runs diffusion_num_layers (3)
            if _num(v, int) != 3 or "diffusion_num_layers" in data:
                raise bad(key, "the release README's name for diffusion_num_layers, which the "
                               "release itself ignores (it runs its default 3): only 3 is "
                               "accepted, and not beside diffusion_num_layers; set "
                               "diffusion_num_layers instead")
            out["num_res_blocks"] = 3
            m.mapped.append(f"num_layers: {v} -> num_res_blocks: 3 (README name)")
        elif key in ("lr", "weight_decay", "clamp_scale"):
            f = _num(v) if v is not None else None
            if v is not None and f is None:
                raise bad(key, "must be a number")
            out[key] = f
            m.mapped.append(f"{key}: {v} -> {key}: {f}")
        elif key == "optimizer":
            name = str(v).lower()
            if name not in ("adamw", "adam"):
                raise bad(key, "seedkit has adamW and adam")
            out["optimizer"] = name
            m.mapped.append(f"optimizer: {v} -> optimizer: {name}")
        elif key == "batch_size":
            n = _whole(v, 1, bad, key, "must be a positive integer (utterances per step)")
            out["batch_size"] = n * PAIRS_PER_UTTERANCE
            m.mapped.append(f"batch_size: {v} utterances -> batch_size: "
                            f"{n * PAIRS_PER_UTTERANCE} pairs (x {PAIRS_PER_UTTERANCE})")
        elif key == "train_timesteps":
            n = _whole(v, 1, bad, key)
            out["train_timesteps"] = n
            m.mapped.append(f"train_timesteps: {v} -> train_timesteps: {n}")
        elif key == "sample_timesteps":
            continue  # below: its meaning depends on use_ddim
        elif key == "use_ddim":
            if _bool(v) is None:
                raise bad(key, "must be True or False")
        elif key == "training_clamp_norm":
            b = _bool(v)
            if b is None:
                raise bad(key, "must be True or False")
            out["train_normalize"] = b
            m.mapped.append(f"training_clamp_norm: {v} -> train_normalize: {str(b).lower()}")
        elif key == "sampling_clamp_norm":
            if _bool(v) is None:
                raise bad(key, "must be True or False")
            # the release normalises test inputs unconditionally (docs/method.md §4)
            m.mapped.append(f"sampling_clamp_norm: {v} -> (sample_normalize: true, as the "
                            "release's sample() always does)")
        elif key == "feature_ensemble":
            if _bool(v) is not False:
                raise bad(key, "the release's feature ensemble adds the raw embedding; seedkit's "
                               "feature_ensemble adds the normalised one (a seedkit SEED conf "
                               "key): the release's True cannot be reproduced")
            out["feature_ensemble"] = 0.0
            m.mapped.append("feature_ensemble: False -> feature_ensemble: 0.0")
        elif key == "ema":
            if _num(v) != 0.0:
                raise bad(key, "the release's EMA was broken when enabled (docs/method.md §12) "
                               "and its runs used none; set ema_decay in a seedkit conf instead")
            out["ema_decay"] = 0.0
            m.mapped.append("ema: 0 -> ema_decay: 0.0")
        elif key == "max_epoch":
            n = _whole(v, 0, bad, key, "must be an integer >= 0")
            out["epochs"] = n + 1
            m.mapped.append(f"max_epoch: {v} -> epochs: {n + 1} (the release's loop runs "
                            "max_epoch + 1 epochs)")
        elif key == "seed":
            n = _whole(v, 0, bad, key, "must be an integer >= 0")
            out["seed"] = n
            m.mapped.append(f"seed: {v} -> seed: {n}")
        elif key == "initial_model":
            if v not in (None, "", "None"):
                raise bad(key, "starting from other weights changes the result; train from "
                               "scratch, or enhance with that model (seedkit-enhance)")
            m.ignored.append(key)
        else:
            raise SeedkitError(f"unknown key {key!r} in a SEED release config; seedkit knows the "
                               "release's keys (docs/seed.md, 'The release's configs') and "
                               "refuses others rather than guess what they change", p,
                               lines.get(key, 0))
    if data.get("train_diffusion") is None and "diffusion_network" not in data:
        raise SeedkitError("a release config without train_diffusion/diffusion_network is a "
                           "baseline (backbone only) config; give the SEED config "
                           "(configs/*_SEED_rdmmlp3.yaml)", p, 1)
    # keys the ECAPA SEED config leaves out take the release's argparse defaults
    for key in ("batch_size", "train_timesteps", "max_epoch"):
        if key not in data:
            d = RELEASE_DEFAULTS[key]
            if key == "batch_size":
                out["batch_size"] = d * PAIRS_PER_UTTERANCE
                m.defaults.append(f"batch_size (absent): {d} utterances -> batch_size: "
                                  f"{d * PAIRS_PER_UTTERANCE} pairs")
            elif key == "max_epoch":
                out["epochs"] = d + 1
                m.defaults.append(f"max_epoch (absent): {d} -> epochs: {d + 1}")
            else:
                out[key] = d
                m.defaults.append(f"{key} (absent): {d}")
    st = data.get("sample_timesteps", RELEASE_DEFAULTS["sample_timesteps"])
    n = _num(st, int)
    if n is None or n < 1:
        raise SeedkitError(f"release key sample_timesteps: {st!r}: must be a positive integer",
                           p, lines.get("sample_timesteps", 0))
    where = "sample_timesteps" if "sample_timesteps" in data else "sample_timesteps (absent)"
    if _bool(data.get("use_ddim", False)):
        out["sample_steps"] = int(n)
        out["ddim_start"] = "full"
        m.mapped.append(f"{where}: {st} + use_ddim: True -> sample_steps: {int(n)}, "
                        "ddim_start: full")
    else:
        out["t_star"] = int(n)
        out["sample_steps"] = 1
        text = f"{where}: {st} -> t_star: {int(n)}, sample_steps: 1 (one-step; the release uses " \
               "sample_timesteps as the timestep itself)"
        (m.mapped if "sample_timesteps" in data else m.defaults).append(text)
    return m


# --------------------------------------------------------------------------- backbone half
def map_backbone_config(data: Mapping[str, Any], path: Optional[PathLike] = None,
                        lines: Optional[Mapping[str, int]] = None) -> ReleaseMapping:
    """Release config -> seedkit backbone conf keys (``model``, ``model_args``, ...)."""
    p = None if path is None else Path(path)
    lines = lines or {}
    m = ReleaseMapping(p, "backbone")
    name = backbone_name(data, p, lines)
    args: dict[str, Any] = {}
    out = m.values
    out["model"] = name
    src = "backbone" if "backbone" in data else ("model" if "model" in data else None)
    m.mapped.append(f"{src or 'backbone (absent)'}: {name} -> model: {name}")

    def bad(key: str, msg: str) -> SeedkitError:
        return _bad(data, key, msg, p, lines)

    for key in ("nOut", "n_mels"):
        if key not in data:
            raise SeedkitError(f"the release config has no {key}; seedkit does not guess the "
                               "backbone's size (both release configs set it)", p, 1)
    for key, v in _own_keys(data, m, SEED_KEYS, skip=("backbone", "model")):
        if key == "nOut":
            n = _whole(v, 1, bad, key, "must be a positive integer (the embedding size)")
            args["embed_dim"] = n
            out["embed_dim"] = n
            m.mapped.append(f"nOut: {v} -> model_args.embed_dim, embed_dim: {n}")
        elif key == "n_mels":
            n = _whole(v, 1, bad, key)
            args["n_mels"] = n
            m.mapped.append(f"n_mels: {v} -> model_args.n_mels: {n}")
        elif key == "log_input":
            b = _bool(v)
            if b is None:
                raise bad(key, "must be True or False")
            if name == "ResNetSE34V2":
                args["log_input"] = b
                m.mapped.append(f"log_input: {v} -> model_args.log_input: {str(b).lower()}")
            elif b:
                m.mapped.append("log_input: True -> (ECAPA's MFCC takes the log itself)")
            else:
                raise bad(key, "the release's ECAPA_TDNN always uses log mels (MFCC)")
        elif key == "encoder_type":
            if name == "ResNetSE34V2":
                if v not in ("ASP", "SAP"):
                    raise bad(key, "ResNetSE34V2 has ASP or SAP pooling")
                args["encoder_type"] = v
                m.mapped.append(f"encoder_type: {v} -> model_args.encoder_type: {v}")
            else:
                if v != "ECA":
                    raise bad(key, "the release's ECAPA_TDNN pools with ECA only")
                m.mapped.append("encoder_type: ECA -> (ECAPA attentive pooling)")
        elif key == "C":
            if name != "ECAPA_TDNN":
                raise bad(key, f"C is an ECAPA_TDNN size; {name} has none")
            n = _whole(v, 1, bad, key)
            args["C"] = n
            m.mapped.append(f"C: {v} -> model_args.C: {n}")
        elif key in ("pretrained_backbone_model", "pretrained_speaker_model"):
            other = "pretrained_speaker_model" if key == "pretrained_backbone_model" else \
                "pretrained_backbone_model"
            if other in data and data[other] != v:
                raise bad(key, f"disagrees with {other}: {data[other]} (the README calls the "
                               "backbone checkpoint pretrained_speaker_model, the release "
                               "configs pretrained_backbone_model): keep one")
            out["checkpoint"] = None if v in (None, "", "None") else str(v)
            m.mapped.append(f"{key}: {v} -> checkpoint: {out['checkpoint']}")
        elif key in ("max_frames", "eval_frames", "num_eval"):
            want = {"max_frames": 200, "eval_frames": 400, "num_eval": 10}[key]
            if _num(v, int) != want:
                raise bad(key, f"the recipe's crops are the release's ({key}: {want}); other "
                               "crops are options of the recipe (its crop lengths and number "
                               "of evaluation crops), not conf keys")
            m.mapped.append(f"{key}: {v} -> (the recipe's default crops)")
        else:
            raise SeedkitError(f"unknown key {key!r} in a release config; seedkit knows the "
                               "release's keys (docs/backbones.md, 'The release's configs') and "
                               "refuses others rather than guess what they change", p,
                               lines.get(key, 0))
    if name == "ECAPA_TDNN" and "C" not in args:
        raise SeedkitError("the release's ECAPA_TDNN config has no C; seedkit does not guess "
                           "the channel width (the release config sets C: 1024)", p, 1)
    out["model_args"] = args
    return m


def release_seed_file(model: str) -> str:
    """The file name of the release's SEED model for backbone ``model`` (a registry name)."""
    if model not in RELEASE_SEED_FILES:
        raise SeedkitError(f"the release has no SEED model for {model} (only "
                           f"{', '.join(RELEASE_SEED_FILES)}); give the file")
    return RELEASE_SEED_FILES[model]


def release_eval_seed(checkpoint: PathLike) -> Optional[int]:
    """The evaluation seed of a release SEED checkpoint, by its file name (None otherwise)."""
    return RELEASE_EVAL_SEEDS.get(Path(checkpoint).name)


__all__ = ["BACKBONES", "MARKERS", "RELEASE_BACKBONE_FILES", "RELEASE_EVAL_SEEDS",
           "RELEASE_SEED_FILES", "is_release_config", "log_once", "map_backbone_config",
           "map_seed_config", "release_eval_seed", "release_seed_file"]
