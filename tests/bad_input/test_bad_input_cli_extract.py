"""The bad-input table (test_bad_input_cli.py beside this file), speaker-model commands:
seedkit-extract (spoilt data dirs, options, backbone confs, bad audio) and seedkit-export-onnx."""

from __future__ import annotations

import gzip
from typing import Callable

import bad_input_cases as bi
import pytest
from bad_input_cases import Case, world  # noqa: F401  (world: the module fixture)

CASES: list[Case] = []


def _extract(data) -> Callable:
    """``prepare``: seedkit-extract of ``data(w, t)`` with the tiny random ECAPA conf."""
    return lambda w, t: ["--config", bi.TINY_CONF, *bi.EXTRACT_OPTS, data(w, t),
                         f"ark,scp:{t}/x.ark,{t}/x.scp"]


for _cid, (_name, _content, _words) in bi.TABLE_BAD.items():
    CASES.append(Case(f"extract:{_cid}", "extract", _extract(bi.spoilt_dir(_name, _content)),
                      ["x.ark", "x.scp"], _words))

for _cid, (_args, _words) in {
        "crop-bad": (["--crop", "multi:x:1"], "bad crop mode 'multi:x:1'"),
        "crop-zero": (["--crop", "random:0"], "bad crop mode 'random:0'"),
        "batch-0": (["--batch-size", "0"], "--batch-size must be >= 1"),
        "device-bad": (["--device", "tpu"], "unknown --device 'tpu'")}.items():
    CASES.append(Case(f"extract:{_cid}", "extract", lambda w, t, a=_args: [
        "--config", bi.TINY_CONF, *bi.EXTRACT_OPTS, *a, w / "data", f"ark,scp:{t}/x.ark,{t}/x.scp"],
        ["x.ark", "x.scp"], _words))

_CONF_BAD = {
    "conf-png": (bi.PNG, ("/bb.yaml:0:", "PNG image")),
    "conf-gzip": (gzip.compress(bi.TINY_CONF.read_bytes()), ("/bb.yaml:0:", "gzip-compressed")),
    "conf-empty": (b"", ("/bb.yaml:0:", "must be a YAML mapping")),
    "conf-list": (b"- a\n- b\n", ("/bb.yaml:0:", "must be a YAML mapping")),
    "conf-neg-embed": (b"model: ECAPA_TDNN\nembed_dim: -4\n",
                       ("/bb.yaml:2:", "embed_dim must be", "got -4")),
    "conf-bad-arg": (b"model: ECAPA_TDNN\nmodel_args: {C: -8}\ncheckpoint: null\n",
                     ("/bb.yaml:1:", "cannot build ECAPA_TDNN", "'C': -8")),
    "conf-huge-arg": (b"model: ECAPA_TDNN\nmodel_args: {C: 99999999999}\n",
                      ("/bb.yaml:2:", "model_args.C=99999999999 is out of range")),
    "conf-rate-0": (b"model: ECAPA_TDNN\nsample_rate: 0\n",
                    ("/bb.yaml:2:", "sample_rate must be", "got 0")),
    "conf-nan-scale": (b"model: ECAPA_TDNN\ninput_scale: .nan\n",
                       ("/bb.yaml:2:", "input_scale must be", "got nan")),
    "conf-unknown-model": (b"model: NoSuchNet\n", ("/bb.yaml:1:", "unknown model 'NoSuchNet'")),
    "conf-checkpoint-png": (None, ("/w.pt:0:", "cannot read checkpoint")),
}
for _cid, (_content, _words) in _CONF_BAD.items():
    def _mk(content=_content):
        def prep(w, t):
            if content is None:
                ck = bi.write(t, "w.pt", bi.PNG)
                c = bi.TINY_CONF.read_text().replace("checkpoint: null", f"checkpoint: {ck}")
                c = c.encode()
            else:
                c = content
            return ["--config", bi.write(t, "bb.yaml", c), *bi.EXTRACT_OPTS, w / "data",
                    f"ark,scp:{t}/x.ark,{t}/x.scp"]
        return prep
    CASES.append(Case(f"extract:{_cid}", "extract", _mk(), ["x.ark", "x.scp"], _words))

for _kind, _words in bi.AUDIO_WORDS.items():
    CASES.append(Case(f"extract:audio-{_kind}", "extract", _extract(bi.audio_dd(_kind)),
                      ["x.ark", "x.scp"], _words))

# --- seedkit-export-onnx: not a SEED/backbone model, a DDIM config, output = input ------------
CASES += [
    Case("export-onnx:model-is-plda", "export_onnx", lambda w, t: [w / "plda", t / "m.onnx"],
         ["m.onnx"], ("/plda:0:", "not a SEED checkpoint")),
    Case("export-onnx:model-is-ark", "export_onnx", lambda w, t: [w / "emb.ark", t / "m.onnx"],
         ["m.onnx"], ("/emb.ark:0:", "not a SEED checkpoint")),
    Case("export-onnx:output-is-model", "export_onnx",
         lambda w, t: (lambda m: [m, m])(bi.copy_model(w, t)), [], ("/m.pt:0:", "also an input")),
    Case("export-onnx:no-output", "export_onnx", lambda w, t: [w / "final.pt"], [],
         "give the SEED model and the output file"),
    Case("export-onnx:ddim-config", "export_onnx", lambda w, t: [
        "--config", bi.write(t, "c.yaml", b"sample_steps: 5\n"), w / "final.pt", t / "m.onnx"],
        ["m.onnx"], ("/c.yaml:0:", "5 DDIM steps", "one-step")),
    Case("export-onnx:release-backbone-unknown", "export_onnx", lambda w, t: [
        "--backbone", bi.write(t, "r.yaml", b"backbone: RawNet3\nnOut: 256\nn_mels: 80\n"),
        t / "b.onnx"], ["b.onnx"], ("/r.yaml:1:", "unknown backbone 'RawNet3'")),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, world, tmp_path, capsys, monkeypatch):  # noqa: F811
    bi.check_bad_input(c, world, tmp_path, capsys, monkeypatch)
