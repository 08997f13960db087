"""Augmentation policies: the release's is byte-identical to the code before policies; compound
reverb+noise and babble copies render as documented; a bad policy is one ERROR line naming its
file and line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from augment_inputs import make_inputs

from seedkit.augment import augment_data_dir
from seedkit.augment_policy import RELEASE, load_policy, parse_policy
from seedkit.crops import wrap_crop
from seedkit.data.datadir import load_data_dir
from seedkit.errors import SeedkitError, run_main
from seedkit.render import read_spec, render_key, reverberate, snr_mix
from seedkit.render_spec import RenderEntry

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "egs" / "mini" / "seed" / "conf"

# sha256[:16] of the outputs of seedkit-augment-data-dir before augmentation policies existed
# (commit 52ed057, the inputs of the `inputs` fixture, rounds=2, seed=7; "rendered": the float32
# samples of every key of aug/render.spec, in spec order). The release policy must reproduce them.
BEFORE = {
    True: {"aug/render.spec": "a6a2c67845e4c167", "aug/utt2clean": "52317ed2dd8e338e",
           "aug/utt2env": "6a9652f27b7c05eb", "aug/utt2spk": "6d55b79f5f843d83",
           "crops/render.spec": "620d7934082f540a", "rendered": "f9c4f169847af6b6"},
    False: {"aug/render.spec": "923403bd4e8de3e2", "aug/utt2clean": "d3f9f688b29c60cc",
            "aug/utt2env": "abbe0046ca869f56", "aug/utt2spk": "df6f8efa6c64be9b",
            "crops/render.spec": "3cc46581348ef125", "rendered": "6503811e906dc546"},
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Clean 16 kHz data dir (long and short utterances), MUSAN (music, noise, speech), RIRs."""
    return make_inputs(tmp_path_factory.mktemp("policy_inputs"), musan_per_subset=2)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _hashes(out: Path) -> dict[str, str]:
    h = {name: _sha((out / name).read_bytes()) for name in
         ("aug/render.spec", "aug/utt2clean", "aug/utt2env", "aug/utt2spk", "crops/render.spec")}
    g = hashlib.sha256()
    spec = out / "aug" / "render.spec"
    for line in spec.read_text().splitlines():
        g.update(render_key(spec, line.split()[0])[0].tobytes())
    h["rendered"] = g.hexdigest()[:16]
    return h


def _main(argv, capsys):
    from seedkit.bin.augment_data_dir import main

    status = run_main(main, "seedkit-augment-data-dir", argv)
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    return status, errors


def _cli(inputs, out: Path, *extra: str) -> list[str]:
    return ["--rounds", "2", "--seed", "7", *extra, "--musan", str(inputs / "musan"), "--rirs",
            str(inputs / "rirs"), str(inputs / "clean"), str(out / "crops"), str(out / "aug")]


@pytest.mark.parametrize("fresh", [True, False])
def test_release_policy_is_byte_identical_to_before(inputs, tmp_path, capsys, fresh):
    # the library default, and the conf file through the command line
    augment_data_dir(inputs / "clean", tmp_path / "a" / "crops", tmp_path / "a" / "aug",
                     musan=inputs / "musan", rirs=inputs / "rirs", rounds=2, seed=7,
                     fresh_crops=fresh)
    assert _hashes(tmp_path / "a") == BEFORE[fresh]
    status, errors = _main(_cli(inputs, tmp_path / "b", "--fresh-crops", str(fresh).lower(),
                                "--augment-conf", str(CONF / "augment_release.yaml")), capsys)
    assert status == 0 and errors == []
    assert _hashes(tmp_path / "b") == BEFORE[fresh]


def test_release_conf_files_are_the_release_policy():
    for recipe in ("mini", "voxceleb"):
        p = load_policy(REPO / "egs" / recipe / "seed" / "conf" / "augment_release.yaml")
        assert p.types == RELEASE.types and p.rounds == 1 and p.is_release()
    assert load_policy(None) is RELEASE
    for name in ("compound", "babble", "wide"):
        assert not load_policy(CONF / f"augment_{name}.yaml").is_release()


@pytest.fixture(scope="module")
def compound(inputs, tmp_path_factory):
    """Pairs of a policy with every kind: release types, reverb+noise, babble, additive speech."""
    out = tmp_path_factory.mktemp("policy_out")
    conf = out / "policy.yaml"
    conf.write_text(
        "rounds: 2\n"
        "types:\n"
        "  - {name: music, kind: additive, sources: [music], snr: [5, 15]}\n"
        "  - {name: noise, kind: additive, sources: [noise], snr: [0, 15]}\n"
        "  - {name: reverb, kind: reverb, sources: [rirs]}\n"
        "  - {name: revnoise, kind: reverb+additive, sources: [rirs, noise], snr: [-5, 5]}\n"
        "  - {name: babble, kind: babble, sources: [speech], speakers: [2, 3], snr: [13, 20]}\n"
        "  - {name: talk, kind: additive, sources: [speech, music], snr: [10, 10]}\n")
    stats = augment_data_dir(inputs / "clean", out / "crops", out / "aug", musan=inputs / "musan",
                             rirs=inputs / "rirs", seed=7, rounds=2, policy=load_policy(conf))
    return out, stats


def test_compound_policy_keys_pairs_and_spec(inputs, compound):
    out, stats = compound
    assert stats == {"clean": 12, "augmented": 72, "pairs": 84}  # 6 utts x 2 rounds x (1 + 6)
    spec = read_spec(out / "aug" / "render.spec")
    u2c = load_data_dir(out / "aug").extra["utt2clean"]
    kinds = {}
    for key, e in spec.entries.items():
        suffix = key[len(e.clean) + 1:]
        k = int(suffix.lstrip("abcdefghijklmnopqrstuvwxyz"))
        assert u2c[key] == (key if e.kind == "clean" else f"{e.clean}-clean{k}")
        kinds.setdefault(suffix.rstrip("0123456789"), set()).add(e.kind)
        assert RenderEntry.parse(e.to_line()) == e  # every line parses back to the same entry
    assert kinds == {"clean": {"clean"}, "music": {"music"}, "noise": {"noise"},
                     "reverb": {"reverb"}, "revnoise": {"reverb+noise"}, "babble": {"babble"},
                     "talk": {"speech", "music"}}
    # appended types do not move the release's draws: its three copies are as without them
    rel = out / "release"
    augment_data_dir(inputs / "clean", rel / "crops", rel / "aug", musan=inputs / "musan",
                     rirs=inputs / "rirs", seed=7, rounds=2)
    base = read_spec(rel / "aug" / "render.spec").entries
    assert all(spec.entries[k] == e for k, e in base.items())
    for e in spec.entries.values():
        if e.kind == "babble":
            assert 2 <= len(e.sources) <= 3 and len(set(e.sources)) == len(e.sources)
            assert 13 <= e.snr <= 20
        if e.kind == "reverb+noise":
            assert -5 <= e.snr <= 5 and e.starts[0] == 0


def test_compound_and_babble_render_as_documented(inputs, compound):
    out, _ = compound
    spec_path = out / "aug" / "render.spec"
    spec = read_spec(spec_path)
    dd_musan = load_data_dir(inputs / "musan")
    dd_rirs = load_data_dir(inputs / "rirs")
    import soundfile as sf

    def audio(dd, key):
        return sf.read(dd.wav_scp[key], dtype="float64")[0]

    def clean_crop(e):
        x = sf.read(load_data_dir(inputs / "clean").wav_scp[e.clean], dtype="float64")[0]
        return wrap_crop(x, e.length, e.start)

    checked = set()
    for key, e in spec.entries.items():
        if e.kind not in ("reverb+noise", "babble") or e.kind in checked:
            continue
        got, _ = render_key(spec_path, key)
        if e.kind == "babble":
            noise = sum(wrap_crop(audio(dd_musan, s), e.length, o)
                        for s, o in zip(e.sources, e.starts))
            want = snr_mix(clean_crop(e), noise, e.snr)
        else:
            rir, src = e.sources
            noise = wrap_crop(audio(dd_musan, src), e.length, e.starts[1])
            want = snr_mix(reverberate(clean_crop(e), audio(dd_rirs, rir)), noise, e.snr)
        np.testing.assert_allclose(got, want.astype(np.float32), rtol=0, atol=1e-6)
        checked.add(e.kind)
    assert checked == {"reverb+noise", "babble"}


RELEASE_TEXT = (CONF / "augment_release.yaml").read_text()
BAD = [
    ("rounds: 1\ntypes:\n  - {name: echo, kind: echo, sources: [rirs]}\n", 3, "unknown kind"),
    ("types:\n  - name: music\n    kind: additive\n    sources: []\n    snr: [5, 15]\n", 4,
     "empty source list"),
    ("types:\n  - {name: music, kind: additive, sources: [music], snr: [15, 5]}\n", 2,
     "snr range reversed"),
    ("types:\n  - {name: noise, kind: additive, sources: [noise], snr: [-30, 15]}\n", 2,
     "outside [-20, 60] dB"),
    ("types:\n  - {name: noise, kind: additive, sources: [noise], snr: [0, 61]}\n", 2,
     "outside [-20, 60] dB"),
    ("types:\n  - {name: noise, kind: additive, sources: [nosie], snr: [0, 15]}\n", 2,
     "unknown source 'nosie'"),
    ("types:\n  - {name: rev, kind: reverb+additive, sources: [rirs], snr: [0, 15]}\n", 2,
     "empty source list for the additive part"),
    ("types:\n  - {name: b, kind: babble, sources: [speech], snr: [13, 20]}\n", 2,
     "needs speakers"),
    ("types:\n  - {name: music, kind: additive, sources: [music]}\n", 2, "needs snr"),
    ("rounds: 1\nsnr: 3\ntypes: []\n", 2, "unknown key 'snr'"),
    ("types: []\n", 1, "non-empty list"),
    (RELEASE_TEXT.replace("name: noise", "name: music"), 8, "used twice"),
]


@pytest.mark.parametrize("text,line,message", BAD)
def test_bad_policy_is_one_error_naming_file_and_line(inputs, tmp_path, capsys, text, line,
                                                      message):
    conf = tmp_path / "bad.yaml"
    conf.write_text(text)
    with pytest.raises(SeedkitError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(text, conf)
    status, errors = _main(_cli(inputs, tmp_path, "--augment-conf", str(conf)), capsys)
    assert status == 1 and len(errors) == 1, errors
    assert errors[0].startswith(f"ERROR (seedkit-augment-data-dir): {conf}:{line}: "), errors[0]
    assert message in errors[0]
    assert not (tmp_path / "aug").exists() and not (tmp_path / "crops").exists()


def test_used_category_missing_from_musan_is_one_error(inputs, tmp_path, capsys):
    conf = tmp_path / "babble.yaml"
    conf.write_text("types:\n  - {name: b, kind: babble, sources: [speech], speakers: [2, 3], "
                    "snr: [13, 20]}\n")
    argv = _cli(inputs, tmp_path, "--augment-conf", str(conf))
    argv[argv.index("--musan") + 1] = str(inputs / "musan_noise")
    status, errors = _main(argv, capsys)
    # musan_noise has no music either: the old check names that first; with music it is speech
    assert status == 1 and len(errors) == 1
    assert "no music recordings" in errors[0] or "no speech recordings" in errors[0]


def test_missing_policy_file_is_one_error(inputs, tmp_path, capsys):
    status, errors = _main(_cli(inputs, tmp_path, "--augment-conf", str(tmp_path / "no.yaml")),
                           capsys)
    assert status == 1 and len(errors) == 1 and "augmentation policy not found" in errors[0]


def test_onthefly_trainer_draws_the_policy_types(inputs, tmp_path):
    """--on-the-fly --augment-conf: every draw is the clean crop + one copy per policy type, the
    renderer's pairs; the resume fingerprint names the policy (the release's adds nothing)."""
    import torch

    from seedkit.extract import build_embedder
    from seedkit.models.config import load_backbone_config
    from seedkit.seed.config import merge_config
    from seedkit.seed.distributed import DistInfo
    from seedkit.seed.onthefly import OnTheFlyOptions, OnTheFlyPairs, check_modes

    tiny_ecapa = CONF / "test_tiny_ecapa.yaml"
    cfg = {"model_channels": 16, "num_res_blocks": 1, "batch_size": 10, "epochs": 1,
           "dropout": 0.0, "ema_decay": 0.0, "seed": 3}
    given = {"--train-data": str(inputs / "clean"), "--musan": str(inputs / "musan"),
             "--rirs": str(inputs / "rirs"), "--backbone-config": str(tiny_ecapa),
             "--allow-random-backbone": True, "--crop-sec": 0.5}

    def source(conf, batch):
        opts = check_modes(True, {}, {**given, "--augment-conf": conf})
        assert isinstance(opts, OnTheFlyOptions) and opts.augment_conf == conf
        return OnTheFlyPairs(opts, merge_config(cfg, {"batch_size": batch}), DistInfo())

    src = source(str(CONF / "augment_compound.yaml"), 10)  # 2 draws x (clean + 4 types)
    assert src.pairs_per_draw == 5 and src.kinds[-1] == "revnoise"
    b = src.batch(0, 1, 0, 1, 10)
    assert b.x_start.shape == (10, 24)
    emb = build_embedder(load_backbone_config(tiny_ecapa), None, "cpu", True)
    for d, (_, utt, k) in enumerate(src.draws(1, 0, 1, 10)):
        entries = src.planner.plan(utt, k)
        assert [e.kind for e in entries][-1] == "reverb+noise"
        want = torch.from_numpy(emb.embed(np.stack([src.renderer.render(e) for e in entries])))
        torch.testing.assert_close(b.x_start[5 * d:5 * d + 5], want, rtol=0, atol=1e-5)
    release = source(None, 8)
    assert release.pairs_per_draw == 4 and "--augment-conf" not in release.fingerprint()
    assert "--augment-conf" in src.fingerprint()
    src.close()
    release.close()
