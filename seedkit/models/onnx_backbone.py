"""Any ONNX speaker model taking ``[B, T, n_mels]`` Kaldi fbank and returning ``[B, D]``.

Conf (``model: ONNX``; the weights are in the ``.onnx`` file, so there is no ``checkpoint``)::

    model: ONNX
    onnx: pretrained/voxceleb_resnet34.onnx   # --checkpoint FILE.onnx overrides it
    model_args:                               # all optional: they override the front end below
      frontend: sherpa-onnx                   # sherpa-onnx | wespeaker
      fbank: {window_type: hamming}           # any seedkit.models.kaldi_fbank.KaldiFbankOptions
      normalize_samples: false                # true: samples in [-1, 1]; false: x32768
      feature_normalize: mean                 # none | mean (per-utterance mean over frames)

The front end follows the metadata sherpa-onnx's exports write (``scripts/wespeaker/
add_meta_data.py``, ``scripts/3dspeaker/export-onnx.py``) as sherpa-onnx's
``SpeakerEmbeddingExtractor`` applies it (``speaker-embedding-extractor-general-impl.h``):

* ``framework``: ``wespeaker`` or ``3d-speaker`` (anything else: set ``frontend``);
* ``sample_rate``: the model's rate (the audio must have it);
* ``normalize_samples``: 0 multiplies the [-1, 1] samples by 32768 (wespeaker), 1 does not
  (3d-speaker);
* ``feature_normalize_type``: ``global-mean`` subtracts the mean over frames (3d-speaker), empty
  means none (wespeaker);
* ``output_dim``: D (the model's own output shape wins when it is static);

with kaldi-native-fbank at sherpa-onnx's settings (:data:`~seedkit.models.kaldi_fbank.
SHERPA_ONNX_FBANK`: povey window, ``snip_edges`` false, ``high_freq`` -400, 80 bins, dither 0).
A file without that metadata (WeSpeaker's own ``wespeaker/bin/export_onnx.py``) needs
``frontend: wespeaker``: WeSpeaker's inference front end (hamming, ``snip_edges`` true, x32768,
per-utterance mean subtraction).

Runs on onnxruntime's CUDA provider for CUDA inputs when onnxruntime has one, else on the CPU,
with as many intra-op threads as torch uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from seedkit.errors import SeedkitError
from seedkit.fileio import atomic_output
from seedkit.models.kaldi_fbank import (
    SHERPA_ONNX_FBANK,
    WESPEAKER_FBANK,
    KaldiFbankOptions,
    kaldi_fbank,
)
from seedkit.models.registry import BackboneNet, register_backbone

log = logging.getLogger(__name__)

FRONTENDS = ("sherpa-onnx", "wespeaker")
FEATURE_NORMALIZE = {"none": "none", "": "none", "mean": "mean", "global-mean": "mean"}
#: sherpa-onnx's metadata defaults per framework (normalize_samples, feature_normalize_type)
FRAMEWORK_DEFAULTS = {"wespeaker": (False, "none"), "3d-speaker": (True, "mean")}


@dataclass(frozen=True)
class OnnxFrontEnd:
    """What happens between the waveform and the ONNX input."""

    fbank: KaldiFbankOptions
    feature_normalize: str  # "none" | "mean"

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, N] waveform in [-1, 1] -> [B, T, n_mels] float32."""
        feats = kaldi_fbank(wav, self.fbank)
        if self.feature_normalize == "mean":
            feats = feats - feats.mean(dim=1, keepdim=True)
        return feats


def _bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise ValueError(value)


def resolve_front_end(meta: dict[str, str], path: Path, frontend: Optional[str] = None,
                      fbank: Optional[dict[str, Any]] = None,
                      normalize_samples: Optional[bool] = None,
                      feature_normalize: Optional[str] = None) -> OnnxFrontEnd:
    """The front end for a model with sherpa-onnx metadata ``meta``; the conf's settings win."""
    framework = meta.get("framework", "")
    if frontend is None:
        if framework not in FRAMEWORK_DEFAULTS:
            what = (f"its metadata says framework {framework!r}" if framework
                    else "it has no sherpa-onnx metadata (framework, sample_rate, ...)")
            raise SeedkitError(
                f"cannot tell this ONNX model's front end: {what}; set model_args.frontend: "
                "wespeaker (a file from WeSpeaker's export_onnx.py) or sherpa-onnx, and any "
                "model_args.fbank / normalize_samples / feature_normalize it needs", path)
        frontend = "sherpa-onnx"
    if frontend not in FRONTENDS:
        raise SeedkitError(f"model_args.frontend {frontend!r} is not one of "
                           f"{', '.join(FRONTENDS)}", path)
    if frontend == "wespeaker":
        opts, samples_in_unit, norm = WESPEAKER_FBANK, False, "mean"
    else:
        opts = SHERPA_ONNX_FBANK
        samples_in_unit, norm = FRAMEWORK_DEFAULTS.get(framework, (True, "none"))
        try:
            if "normalize_samples" in meta:
                samples_in_unit = _bool(meta["normalize_samples"])
            if "feature_normalize_type" in meta:
                norm = FEATURE_NORMALIZE[meta["feature_normalize_type"].strip()]
            if "sample_rate" in meta:
                opts = opts.with_overrides({"sample_rate": int(meta["sample_rate"])})
        except (ValueError, KeyError):
            keys = ("normalize_samples", "feature_normalize_type", "sample_rate")
            raise SeedkitError(
                f"unsupported metadata {({k: meta.get(k) for k in keys})}; set "
                "model_args.normalize_samples / feature_normalize / fbank.sample_rate",
                path) from None
    if normalize_samples is not None:
        samples_in_unit = bool(normalize_samples)
    opts = opts.with_overrides({"sample_scale": 1.0 if samples_in_unit else 32768.0})
    if feature_normalize is not None:
        if feature_normalize not in FEATURE_NORMALIZE:
            raise SeedkitError(f"model_args.feature_normalize {feature_normalize!r} is not one "
                               "of none, mean", path)
        norm = FEATURE_NORMALIZE[feature_normalize]
    if fbank:
        try:
            opts = opts.with_overrides(dict(fbank))
        except (SeedkitError, TypeError) as err:
            raise SeedkitError(f"model_args.fbank: {getattr(err, 'message', err)}", path) from None
    return OnnxFrontEnd(opts, norm)


def write_metadata(path: Path | str, meta: dict[str, Any]) -> None:
    """Add ``meta`` (key -> value, stored as strings) to the ONNX file at ``path``, as
    sherpa-onnx's ``add_meta_data.py`` does (existing keys are replaced); written atomically."""
    import onnx

    model = onnx.load(str(path))
    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    for key, value in [*keep, *((k, str(v)) for k, v in meta.items())]:
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    with atomic_output(path) as tmp:
        onnx.save(model, str(tmp))


def _session_options(threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return so


def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:300]


@register_backbone("ONNX", "onnx")
class OnnxBackbone(BackboneNet):
    """An onnxruntime ``InferenceSession`` behind the seedkit backbone interface.

    ``onnx`` is the model file (the conf key ``onnx:``, passed in by the conf loader).
    """

    #: the weights are in the model file: no checkpoint, no random weights
    weights_in_model_file = True
    model_file_arg = "onnx"

    def __init__(self, onnx: str = "", frontend: Optional[str] = None,
                 fbank: Optional[dict[str, Any]] = None,
                 normalize_samples: Optional[bool] = None,
                 feature_normalize: Optional[str] = None):
        super().__init__()
        if not onnx:
            raise SeedkitError("model ONNX needs the conf key 'onnx: path/to/model.onnx'")
        self.path = Path(onnx)
        if not self.path.is_file():
            raise SeedkitError(f"ONNX model file {self.path} does not exist; give the exported "
                               "model (conf key 'onnx' or --checkpoint)")
        self._sessions: dict[str, Any] = {}
        self._threads = torch.get_num_threads()
        sess = self._load_session("cpu")
        meta = dict(sess.get_modelmeta().custom_metadata_map)
        self.meta = meta
        self.front_end = resolve_front_end(meta, self.path, frontend, fbank, normalize_samples,
                                           feature_normalize)
        self.sample_rate = int(self.front_end.fbank.sample_rate)
        self.min_samples = self.front_end.fbank.frame_length()
        self.sample_rate_hint = (f"{self.path} is a {self.sample_rate} Hz model; resample the "
                                 f"data to {self.sample_rate} Hz (seedkit-resample-data-dir) "
                                 f"and set sample_rate: {self.sample_rate} in the conf")
        self._check_io(sess)

    # ------------------------------------------------------------------ session and checks
    def _load_session(self, device: str):
        """The session for ``device`` ('cpu' or 'cuda:N'), made once."""
        if device in self._sessions:
            return self._sessions[device]
        import onnxruntime as ort

        providers: list[Any] = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                idx = int(device.split(":")[1]) if ":" in device else 0
                providers = [("CUDAExecutionProvider", {"device_id": idx}), *providers]
            else:
                log.warning("onnxruntime has no CUDA provider (pip install onnxruntime-gpu); "
                            "running %s on the CPU", self.path)
        try:
            sess = ort.InferenceSession(str(self.path), _session_options(self._threads),
                                        providers=providers)
        except Exception as err:  # InvalidProtobuf, Fail, NoSuchFile, ... from onnxruntime
            raise SeedkitError(f"cannot load this ONNX model ({_first_line(err)}); re-export or "
                               "re-download it", self.path) from None
        self._sessions[device] = sess
        return sess

    def _check_io(self, sess) -> None:
        ins, outs = sess.get_inputs(), sess.get_outputs()
        if len(ins) != 1:
            raise SeedkitError(f"the model has {len(ins)} inputs "
                               f"({', '.join(i.name for i in ins)}); seedkit feeds one, "
                               "fbank [B, T, n_mels]", self.path)
        inp, out = ins[0], outs[0]
        self.input_name, self.output_name = inp.name, out.name
        n_mels = self.front_end.fbank.num_mel_bins
        if len(inp.shape) != 3:
            raise SeedkitError(f"input {inp.name!r} has shape {inp.shape} (rank "
                               f"{len(inp.shape)}); seedkit's ONNX backbone feeds fbank "
                               f"[B, T, {n_mels}] (rank 3): export the model from features, "
                               "not from the waveform", self.path)
        if inp.type != "tensor(float)":
            raise SeedkitError(f"input {inp.name!r} is {inp.type}; seedkit feeds "
                               "tensor(float) fbank", self.path)
        if isinstance(inp.shape[2], int) and inp.shape[2] != n_mels:
            raise SeedkitError(f"input {inp.name!r} takes {inp.shape[2]} features per frame, "
                               f"the fbank gives {n_mels}: set model_args.fbank.num_mel_bins: "
                               f"{inp.shape[2]}", self.path)
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        if len(out.shape) != 2:
            raise SeedkitError(f"output {out.name!r} has shape {out.shape}; a speaker model "
                               "returns [B, D] embeddings", self.path)
        dim = out.shape[1]
        if not isinstance(dim, int):
            dim = int(self.meta.get("output_dim", 0) or 0) or self._probe_dim(sess)
        self.embed_dim = int(dim)

    def _probe_dim(self, sess) -> int:
        """D from one forward pass of 1 s of silence (output shape not static, no metadata)."""
        wav = torch.zeros(1, self.sample_rate)
        return int(self._run(sess, self.front_end(wav).numpy()).shape[1])

    def _run(self, sess, feats: np.ndarray) -> np.ndarray:
        try:
            if self.fixed_batch == 1 and len(feats) != 1:
                out = np.concatenate([sess.run([self.output_name],
                                               {self.input_name: feats[i:i + 1]})[0]
                                      for i in range(len(feats))])
            else:
                out = sess.run([self.output_name], {self.input_name: feats})[0]
        except Exception as err:  # onnxruntime's own errors (shape mismatch inside the graph)
            raise SeedkitError(f"onnxruntime failed on fbank of shape {list(feats.shape)}: "
                               f"{_first_line(err)}", self.path) from None
        if out.ndim != 2 or out.shape[0] != len(feats):
            raise SeedkitError(f"output {self.output_name!r} has shape {list(out.shape)} for "
                               f"{len(feats)} inputs; a speaker model returns [B, D] "
                               "embeddings", self.path)
        return out

    # ------------------------------------------------------------------ forward
    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, N] waveform in [-1, 1] -> [B, D] float32."""
        feats = self.front_end(wav).float()
        dev = wav.device
        sess = self._load_session(f"cuda:{dev.index or 0}" if dev.type == "cuda" else "cpu")
        out = self._run(sess, feats.cpu().numpy())
        if out.shape[1] != self.embed_dim:
            raise SeedkitError(f"output has {out.shape[1]} dimensions, {self.embed_dim} were "
                               "expected", self.path)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(dev)


__all__ = ["OnnxBackbone", "OnnxFrontEnd", "resolve_front_end", "write_metadata"]
