"""The bad-input table (test_bad_input_cli.py beside this file), SEED commands: seedkit-enhance
(embeddings, options, models, configs, outputs) and seedkit-train-seed (embeddings, config
values, the pair list, on-the-fly pairs)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import bad_input_cases as bi
import pytest
import torch
from bad_input_cases import Case, world  # noqa: F401  (world: the module fixture)

CASES: list[Case] = []

for _k in bi.RSPEC_BAD:
    _r = bi.rspec_bad(_k)
    CASES += [
        Case(f"enhance:{_k}", "enhance", lambda w, t, r=_r: [
            w / "final.pt", r(w, t), f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"],
            bi.rspec_words("enhance", _k)),
        Case(f"train-seed:{_k}", "train_seed", lambda w, t, r=_r: [
            "--clean", r(w, t), "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
            "--device", "cpu", "--set", "epochs=1", t / "exp"], ["exp/final.pt"],
            bi.rspec_words("train-seed", _k)),
    ]

# --- enhance --------------------------------------------------------------------------------
for _cid, (_args, _words) in {
        "steps-2000": (["--steps", "2000"], ("--steps must be in 1..1000", "got 2000")),
        "steps-0": (["--steps", "0"], ("--steps must be in 1..1000", "got 0")),
        "t-star-1000": (["--t-star", "1000"], ("--t-star must be in 0..999", "got 1000")),
        "t-star-neg": (["--t-star", "-1"], ("--t-star must be in 0..999", "got -1")),
        "batch-0": (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        "fe-nan": (["--feature-ensemble", "nan"], "feature_ensemble must be finite, got nan"),
        "fe-neg": (["--feature-ensemble", "-1"], "feature_ensemble must be >= 0, got -1.0"),
        "device-bad": (["--device", "tpu"], "unknown --device 'tpu'"),
        }.items():
    CASES.append(Case(f"enhance:{_cid}", "enhance", lambda w, t, a=_args: [
        *a, w / "final.pt", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"],
        ["e.ark", "e.scp"], _words))

_NOT_SEED = ("/m.pt:0:", "not a SEED checkpoint")
for _cid, (_content, _words) in {
        "model-png": (bi.PNG, _NOT_SEED), "model-empty": (b"", _NOT_SEED),
        "model-text": (b"hello\n", _NOT_SEED), "model-truncated": (None, _NOT_SEED),
        "model-nan": ("nan", ("/m.pt:0:", "holds NaN or inf")),
        "model-wrong-dim": ("dim", ("/emb.scp:0:", "dimension 8 but the model expects 4")),
        }.items():
    def _mk(content=_content):
        def prep(w, t):
            if content is None:
                m = bi.write(t, "m.pt", (w / "final.pt").read_bytes()[:200])
            elif content == "nan":
                obj = torch.load(w / "final.pt", weights_only=True)
                next(iter(obj["model"].values())).fill_(float("nan"))
                m = t / "m.pt"
                torch.save(obj, m)
            elif content == "dim":
                m = t / "m.pt"
                bi.seed_model(m, dim=4)
            else:
                m = bi.write(t, "m.pt", content)
            return [m, f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"]
        return prep
    CASES.append(Case(f"enhance:{_cid}", "enhance", _mk(), ["e.ark", "e.scp"], _words))

for _cid, (_content, _words) in {
        "config-png": (bi.PNG, ("/c.yaml:0:", "PNG image")),
        "config-dropout": (b"dropout: 1.5\n", ("/c.yaml:1:", "dropout must be in [0, 1), got 1.5")),
        "config-binary": (bi.BINARY, ("/c.yaml:0:", "binary data"))}.items():
    CASES.append(Case(f"enhance:{_cid}", "enhance", lambda w, t, c=_content: [
        "--config", bi.write(t, "c.yaml", c), w / "final.pt", f"scp:{w}/emb.scp",
        f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"], _words))

CASES += [
    Case("enhance:noise-other-shape", "enhance", lambda w, t: [
        "--noise", f"scp:{w}/emb4.scp", w / "final.pt", f"scp:{w}/emb.scp",
        f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"],
        ("/emb4.scp:0:", "epsilon for 's1-a' has shape (4,)")),
    Case("enhance:input-other-dim", "enhance", lambda w, t: [
        w / "final.pt", f"scp:{w}/emb4.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"],
        ["e.ark", "e.scp"], ("/emb4.scp:0:", "dimension 4 but the model expects 8")),
    Case("enhance:bad-wspecifier", "enhance", lambda w, t: [
        w / "final.pt", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark"], ["e.ark"],
        ("bad wspecifier", "/e.ark'", "needs two paths")),
    Case("enhance:model-is-plda", "enhance", lambda w, t: [
        w / "plda", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"],
        ("/plda:0:", "not a SEED checkpoint")),
    Case("enhance:model-is-ark", "enhance", lambda w, t: [
        w / "emb.ark", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.scp"], ["e.ark", "e.scp"],
        ("/emb.ark:0:", "not a SEED checkpoint")),
    Case("enhance:wspecifier-same-file", "enhance", lambda w, t: [
        w / "final.pt", f"scp:{w}/emb.scp", f"ark,scp:{t}/e.ark,{t}/e.ark"], ["e.ark"],
        ("bad wspecifier", "the archive and the index are the same file")),
    Case("enhance:output-is-model", "enhance", lambda w, t: [
        bi.copy_model(w, t), f"scp:{w}/emb.scp", f"ark:{t}/m.pt"], [],
        ("/m.pt:0:", "also an input")),
]

# --- train-seed: config values and the pair list --------------------------------------------
_CLI = "<command line>:0:"
for _cid, (_extra, _words) in {
        "dropout": (["--set", "dropout=1.5"], (_CLI, "dropout must be in [0, 1), got 1.5")),
        "adam-eps": (["--set", "adam_eps=-1e-8"], (_CLI, "adam_eps must be > 0")),
        "lr-nan": (["--set", "lr=nan"], (_CLI, "lr must be finite, got nan")),
        "betas": (["--adam-betas", "[0.9, 2]"], (_CLI, "adam_betas must be", "[0.9, 2]")),
        "unknown-key": (["--set", "dropuot=0.1"], (_CLI, "unknown SEED config key 'dropuot'")),
        "seed-neg": (["--seed", "-1"], (_CLI, "seed must be >= 0, got -1")),
        "device-bad": (["--device", "tpu"], "unknown --device 'tpu'"),
        "beta-end-1": (["--beta-end", "1.0"], (_CLI, "beta_end must be in (0, 1), got 1.0")),
        }.items():
    CASES.append(Case(f"train-seed:{_cid}", "train_seed", lambda w, t, e=_extra: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs",
        w / "utt2clean", "--device", "cpu", "--set", "epochs=1", *e, t / "exp"],
        ["exp/final.pt"], _words))
for _cid, (_content, _words) in {
        "pairs-binary": (bi.BINARY, ("/pairs:0:", "binary data")),
        "pairs-gzip": (None, ("/pairs:0:", "gzip-compressed")),
        "pairs-empty": (b"", ("/pairs:0:", "the pair list is empty")),
        "pairs-three-fields": (b"s1-a s1-a x\n", ("/pairs:1:", "at most 2 fields, got 3")),
        "pairs-unknown-key": (b"zz s1-a\n", ("/pairs:0:", "'zz' not in --noisy or --clean")),
        "config-png": ("cfg", ("/c.yaml:0:", "PNG image"))}.items():
    def _mk(content=_content):
        def prep(w, t):
            extra = []
            pairs = w / "utt2clean"
            if content == "cfg":
                extra = ["--config", bi.write(t, "c.yaml", bi.PNG)]
            else:
                pairs = bi.write(t, "pairs", bi.gz(w / "utt2clean") if content is None else content)
            return ["--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs",
                    pairs, "--device", "cpu", "--set", "epochs=1", *extra, t / "exp"]
        return prep
    CASES.append(Case(f"train-seed:{_cid}", "train_seed", _mk(), ["exp/final.pt"], _words))

CASES += [
    Case("train-seed:network-huge", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        *bi.TRAIN_OPTS, "--set", "model_channels=1000000", t / "exp"], ["exp/final.pt"],
        ("model_channels=1000000", "at most 1e+09")),
    Case("train-seed:dev-trials-png", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        *bi.TRAIN_OPTS, "--dev-trials", bi.write(t, "dev", bi.PNG), "--dev-enroll",
        f"scp:{w}/emb.scp", t / "exp"], ["exp/final.pt"], ("/dev:0:", "PNG image")),
    Case("train-seed:noisy-other-dim", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb4.scp", "--pairs",
        w / "utt2clean", *bi.TRAIN_OPTS, t / "exp"], ["exp/final.pt"],
        ("/emb4.scp:0:", "noisy embeddings have dimension 4 but clean ones have 8")),
    Case("train-seed:embed-dim-mismatch", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs",
        w / "utt2clean", *bi.TRAIN_OPTS, "--set", "embed_dim=4", t / "exp"], ["exp/final.pt"],
        ("embed_dim=4", "the embeddings have dimension 8")),
    Case("train-seed:epochs-0", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        "--device", "cpu", "--epochs", "0", t / "exp"], ["exp/final.pt"],
        ("epochs=0", "nothing would be trained")),
]


# --- train-seed --on-the-fly: the clean/MUSAN/RIR data dirs and the backbone conf are inputs
def _otf(**over) -> Callable:
    def args(w: Path, t: Path) -> list:
        opts = {"--train-data": w / "data", "--musan": w / "musan", "--rirs": w / "rirs",
                "--backbone-config": bi.REPO / "egs/mini/seed/conf/test_tiny_ecapa.yaml"}
        for k, v in over.items():
            opts["--" + k.replace("_", "-")] = v(w, t) if callable(v) else v
        flat = [x for k, v in opts.items() if v is not None for x in (k, v)]
        return ["--on-the-fly", *flat, "--allow-random-backbone", "--crop-sec", "0.25",
                "--batch-size", "8", *bi.TRAIN_OPTS, t / "exp"]
    return args


def _empty_dir(w: Path, t: Path) -> Path:
    (t / "empty").mkdir(exist_ok=True)
    return t / "empty"


def _bad_utt2spk(w: Path, t: Path) -> Path:
    d = t / "bad_data"
    d.mkdir(exist_ok=True)
    (d / "wav.scp").write_bytes((w / "data/wav.scp").read_bytes())
    (d / "utt2spk").write_bytes(bi.BINARY)
    return d


def _musan_without_music(w: Path, t: Path) -> Path:
    d = t / "musan_noise_only"
    bi.datadir(d, {"noise-b": (str(w / "wav" / "noise-b.wav"), "noise")})
    return d


for _cid, _over in {
        "otf-with-clean": (("--clean", "cannot go with it"),
                           {"clean": lambda w, t: f"scp:{w}/emb.scp"}),
        "otf-no-musan": ("missing: --musan", {"musan": None}),
        "otf-train-data-missing": (("/nowhere:0:", "clean data dir not found"),
                                   {"train_data": lambda w, t: t / "nowhere"}),
        "otf-train-data-empty-dir": (("/empty/wav.scp:0:", "no wav.scp"),
                                     {"train_data": _empty_dir}),
        "otf-train-data-binary-utt2spk": (("/bad_data/utt2spk:0:", "binary"),
                                          {"train_data": _bad_utt2spk}),
        "otf-musan-no-music": (("/musan_noise_only/utt2spk:0:", "no music recordings"),
                               {"musan": _musan_without_music}),
        "otf-backbone-conf-png": (("/b.yaml:0:", "PNG"), {
            "backbone_config": lambda w, t: bi.write(t, "b.yaml", bi.PNG)}),
        "otf-steps-per-epoch-0": (("--steps-per-epoch", "got 0"), {"steps_per_epoch": "0"}),
        "otf-render-threads-negative": (("--render-threads", "got -1"),
                                        {"render_threads": "-1"}),
        }.items():
    CASES.append(Case(f"train-seed:{_cid}", "train_seed", _otf(**_over[1]), ["exp/final.pt"],
                      _over[0]))
CASES += [
    Case("train-seed:otf-option-without-otf", "train_seed", lambda w, t: [
        "--clean", f"scp:{w}/emb.scp", "--noisy", f"scp:{w}/emb.scp", "--pairs", w / "utt2clean",
        "--musan", w / "musan", *bi.TRAIN_OPTS, t / "exp"], ["exp/final.pt"],
        "--musan: only with --on-the-fly"),
    Case("train-seed:otf-batch-not-multiple-of-4", "train_seed", lambda w, t: [
        *_otf()(w, t)[:-1], "--batch-size", "6", t / "exp"], ["exp/final.pt"],
        ("batch_size 6", "not a multiple")),
]


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, world, tmp_path, capsys, monkeypatch):  # noqa: F811
    bi.check_bad_input(c, world, tmp_path, capsys, monkeypatch)
