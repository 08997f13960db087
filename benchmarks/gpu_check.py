"""One table for a GPU machine: do the CUDA paths compute the original's numbers, and how fast.

Rows (``benchmarks/gpu_check.sh`` runs this; ``--quick`` is the CPU smoke run CI does):
  * equivalence on the device (TF32 off): ResNetSE34V2 and ECAPA-TDNN embeddings of the fixture
    waveforms, RDM-MLP forward and one-step enhancement (D = 512, 256), each against
    ``tests/data/reference`` (the original code's outputs), with the fixtures' tolerance
    (rtol 1e-4, atol 1e-5);
  * extraction: crops/s of 4.015 s crops through ResNetSE34V2 and ECAPA-TDNN at several batch
    sizes, float32 and bf16 autocast (with bf16's largest relative deviation from float32);
  * SEED training through ``torchrun --standalone --nproc-per-node 1 seedkit-train-seed`` on
    synthetic cached pairs: pairs/s over the whole command (start-up included) and per epoch;
  * SEED training in the steady state (``benchmarks/bench_train.py``, whose lines are printed
    under the table too): trainer pairs/s against the bare network step at D = 256 and 512 x
    1,200 pairs, and the sampler's ms/step against the old host path's;
  * one-step enhancement: embeddings/s at D = 512 and 256.

    .venv/bin/python benchmarks/gpu_check.py [--device cuda] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the fixtures' weight builder (tests/reference_weights.py)

import bench_train  # noqa: E402  (benchmarks/, this script's folder)
import reference_weights as rw  # noqa: E402

from seedkit.embio import read_embeddings, write_embeddings  # noqa: E402
from seedkit.models import build_backbone  # noqa: E402
from seedkit.models.checkpoint import load_backbone_checkpoint  # noqa: E402
from seedkit.seed.checkpoint import load_official_state_dict  # noqa: E402
from seedkit.seed.config import merge_config, resolve_dims  # noqa: E402
from seedkit.seed.diffusion import SeedDiffusion  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
FIXTURES = REPO / "tests" / "data" / "reference"
BACKBONES = {"ResNetSE34V2": "backbone_ResNetSE34V2.json", "ECAPA_TDNN": "backbone_ECAPA_TDNN.json"}
CROP = 64240  # 4.015 s at 16 kHz: the SEED evaluation crop

Row = tuple[str, str, str, str]  # (check, setting, value, note)


def load_fixture(name: str) -> dict:
    with open(FIXTURES / name, encoding="utf-8") as f:
        return json.load(f)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev: torch.device, min_time: float, max_reps: int = 50) -> float:
    """Seconds per call: one warm-up call, then repeated calls until ``min_time`` has passed."""
    fn()
    sync(dev)
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        sync(dev)
        dt = time.perf_counter() - t0
        if dt >= min_time or reps >= max_reps:
            return dt / reps


def verdict(diff: float, ref: torch.Tensor, got: torch.Tensor) -> str:
    ok = torch.allclose(got, ref, rtol=RTOL, atol=ATOL)
    return f"{'ok' if ok else 'FAIL'} (max abs diff {diff:.2e})"


def equivalence(dev: torch.device, quick: bool) -> list[Row]:
    rows: list[Row] = []
    for name, fixture in BACKBONES.items():
        spec = load_fixture(fixture)
        model = build_backbone(name).eval()
        load_backbone_checkpoint(model, rw.state_dict_from_spec(spec))
        model.to(dev)
        cases = spec["cases"][:1] if quick else spec["cases"]
        for case in cases:
            wav = torch.stack([rw.fixture_waveform(case["input"]["num_samples"], s)
                               for s in case["input"]["seeds"]]).to(dev)
            with torch.inference_mode():
                got = model(wav).float().cpu()
            ref = torch.tensor(case["expected_output"])
            diff = float((got - ref).abs().max())
            rows.append((f"equivalence: {name}", f"{case['name']}, {dev.type} fp32",
                         verdict(diff, ref, got), "vs the original code"))
    rdm = load_fixture("rdm_mlp.json")
    for key, entry in rdm["entries"].items():
        model = SeedDiffusion(resolve_dims(merge_config({"embed_dim": entry["D"]})))
        load_official_state_dict(model.net, rw.state_dict_from_spec(entry["state_dict"]),
                                 "<fixture>")
        model.eval().to(dev)
        f = entry["forward"]
        with torch.inference_mode():
            out = model.net(torch.tensor(f["x"], device=dev),
                            torch.tensor(f["timesteps"], device=dev)).float().cpu()
        ref = torch.tensor(f["expected_output"])
        rows.append(("equivalence: RDM-MLP forward", f"{key}, {dev.type} fp32",
                     verdict(float((out - ref).abs().max()), ref, out), "vs the original code"))
        o = entry["one_step"]
        with torch.inference_mode():
            enh = model.enhance(torch.tensor(o["embeddings"], device=dev),
                                torch.tensor(o["epsilon"], device=dev), t_star=o["t"],
                                steps=1).float().cpu()
        ref = torch.tensor(o["expected_enhanced"])
        rows.append(("equivalence: one-step enhancement", f"{key}, {dev.type} fp32",
                     verdict(float((enh - ref).abs().max()), ref, enh), "vs the original code"))
    return rows


def extraction(dev: torch.device, quick: bool) -> list[Row]:
    rows: list[Row] = []
    batches = (2,) if quick else (10, 40, 128, 256)
    min_time = 0.0 if quick else 2.0
    gen = torch.Generator().manual_seed(0)
    for name in BACKBONES:
        torch.manual_seed(0)
        model = build_backbone(name).eval().to(dev)
        for b in batches:
            x = (0.1 * torch.randn(b, CROP, generator=gen)).to(dev)
            with torch.inference_mode():
                sec = timed(lambda m=model, x=x: m(x), dev, min_time, 3 if quick else 50)
                ref = model(x).float()
            rows.append((f"extraction: {name}", f"batch {b}, fp32", f"{b / sec:,.1f} crops/s",
                         f"{1000 * sec / b:.1f} ms/crop"))
            if dev.type == "cpu" and quick:
                continue  # bf16 autocast on a small CPU says nothing about a GPU
            with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16):
                sec16 = timed(lambda m=model, x=x: m(x), dev, min_time, 3 if quick else 50)
                got = model(x).float()
            dev_rel = float(((got - ref).norm(dim=1) / ref.norm(dim=1)).max())
            rows.append((f"extraction: {name}", f"batch {b}, bf16 autocast",
                         f"{b / sec16:,.1f} crops/s",
                         f"{sec / sec16:.2f}x fp32; max |bf16 - fp32| / |fp32| = {dev_rel:.2e}"))
    return rows


WORK: dict[str, Path] = {}  # main's scratch dir ("root"); training leaves its model ("final.pt")


def _module_env() -> dict[str, str]:
    """The environment for ``python -m seedkit.bin.*`` children: this checkout on PYTHONPATH."""
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()),
            "PYTHONPATH": os.pathsep.join([str(REPO),
                                           *filter(None, [os.environ.get("PYTHONPATH")])])}


def training(dev: torch.device, quick: bool) -> list[Row]:
    """torchrun with one process on synthetic cached pairs; pairs/s from the wall clock."""
    n_clean, rounds, dim = (200, 2, 64) if quick else (20000, 3, 512)
    epochs = 2 if quick else 5
    batch = 100 if quick else 1200
    r = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        clean = r.normal(size=(n_clean, dim)).astype(np.float32)
        keys = [f"u{i:06d}" for i in range(n_clean)]
        write_embeddings(f"ark,scp:{t}/clean.ark,{t}/clean.scp", zip(keys, clean))
        noisy, lines = [], []
        for k in range(rounds):
            for i, key in enumerate(keys):
                jitter = 0.3 * r.normal(size=dim).astype(np.float32)
                noisy.append((f"{key}-aug{k}", clean[i] + jitter))
                lines.append(f"{key}-aug{k} {key}\n")
        write_embeddings(f"ark,scp:{t}/noisy.ark,{t}/noisy.scp", noisy)
        (t / "utt2clean").write_text("".join(sorted(lines)))
        # python -m torch.distributed.run is torchrun; --module runs the bin's __main__, so a
        # GPU machine with torch but no installed seedkit console scripts can run the check
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
               "--nproc-per-node", "1", "--module", "seedkit.bin.train_seed", "--config",
               str(REPO / "egs/voxceleb/seed/conf/seed_rdm_mlp3.yaml"),
               "--clean", f"scp:{t}/clean.scp", "--noisy", f"scp:{t}/noisy.scp",
               "--pairs", str(t / "utt2clean"), "--device", str(dev), "--epochs", str(epochs),
               "--batch-size", str(batch), str(t / "exp")]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_module_env())
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return [("training: torchrun 1 process", f"D={dim}", "FAIL", " / ".join(tail))]
        if "root" in WORK:
            WORK["final.pt"] = WORK["root"] / "final.pt"
            shutil.copy(t / "exp" / "final.pt", WORK["final.pt"])
        pairs = n_clean * (rounds + 1) * epochs  # + the identity (clean, clean) pair of each
        note = f"{pairs:,} pairs, {epochs} epochs, batch {batch}, {wall:.1f} s with start-up"
        return [("training: torchrun 1 process", f"D={dim}, {dev.type}",
                 f"{pairs / wall:,.0f} pairs/s", note)]


STEADY: list[str] = []  # bench_train's report lines, printed under the table


def steady_state(dev: torch.device, quick: bool) -> list[Row]:
    """benchmarks/bench_train.py: the trainer's steady state against the bare network step, and
    the sampler alone (the device's and the old host path's)."""
    threads = torch.get_num_threads()
    if dev.type == "cpu":  # CPU seconds of the process: one thread, as bench_train's default
        torch.set_num_threads(1)
    try:
        if quick:
            results = bench_train.run(dev, [64], 100, steps=2, warmup=1, repeats=1,
                                      num_pairs=400)
        else:
            results = bench_train.run(dev, [256, 512], 1200, steps=50, warmup=10, repeats=5,
                                      num_pairs=120000)
    finally:
        torch.set_num_threads(threads)
    rows: list[Row] = []
    for r in results:
        STEADY.extend(bench_train.lines(r))
        setting = f"D={r['dim']}, batch {r['batch']}, {dev.type} fp32"
        rows.append(("training: steady state", setting, f"{r['train_pairs_s']:,.0f} pairs/s",
                     f"data {r['data_pct']:.0f}%, net {r['net_pct']:.0f}%; bare network step "
                     f"{r['bare_pairs_s']:,.0f} pairs/s "
                     f"({r['train_pairs_s'] / r['bare_pairs_s']:.2f} of it); the old-style step "
                     f"{r['old_step_pairs_s']:,.0f} pairs/s "
                     f"({r['train_pairs_s'] / r['old_step_pairs_s']:.2f}x)"))
        rows.append(("sampler: one training step", setting, f"{r['sampler_ms']:.2f} ms/step",
                     f"old host path (numpy) {r['old_sampler_ms']:.2f} ms/step"))
    return rows


def enhancement(dev: torch.device, quick: bool) -> list[Row]:
    rows: list[Row] = []
    n = 512 if quick else 65536
    for dim in (512, 256):
        torch.manual_seed(0)
        model = SeedDiffusion(resolve_dims(merge_config({"embed_dim": dim}))).eval().to(dev)
        e = torch.randn(n, dim, device=dev)
        eps = torch.randn(n, dim, device=dev)
        with torch.inference_mode():
            sec = timed(lambda m=model, e=e, eps=eps: m.enhance(e, eps, steps=1), dev,
                        0.0 if quick else 2.0, 3 if quick else 50)
        rows.append(("enhancement: one step", f"D={dim}, batch {n}, {dev.type} fp32",
                     f"{n / sec:,.0f} emb/s", f"{1e6 * sec / n:.2f} us/emb"))
    return rows


def _setting(module: str, dev: torch.device) -> str:
    """The setting column of a command row: the device, or on a CPU-only check the options the
    checked run adds (``cpu [--batch-size 7] vs cpu``)."""
    if dev.type != "cpu":
        return dev.type
    return f"cpu [{' '.join(CPU_VARIANT[module])}] vs cpu"


def _run_module(module: str, args: list[str]) -> tuple[float, str]:
    """``python -m <module> args``: (wall seconds, '' or the last lines of its error output)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=_module_env())
    err = "" if proc.returncode == 0 else " / ".join(
        (proc.stderr or proc.stdout).strip().splitlines()[-2:])
    return time.perf_counter() - t0, err


def _max_diff(a_scp: Path, b_scp: Path) -> float:
    a, b = dict(read_embeddings(f"scp:{a_scp}")), dict(read_embeddings(f"scp:{b_scp}"))
    if a.keys() != b.keys():
        raise ValueError(f"{a_scp} and {b_scp} hold different keys")
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in a)


# On a CPU-only check the "device" run of a command differs from the CPU reference in these
# options (threads, batch size), so its row still compares two real computations, not one with
# itself.
CPU_VARIANT = {"seedkit.bin.extract": ["--num-threads", "2", "--batch-size", "3"],
               "seedkit.bin.enhance": ["--batch-size", "7"]}


def _variant(module: str, dev: torch.device, d: str) -> list[str]:
    """The extra options of the run on ``d`` (the checked run on a CPU-only check)."""
    return CPU_VARIANT[module] if dev.type == "cpu" and d != "cpu" else []


def _runs(dev: torch.device) -> list[str]:
    """The two runs of a command: on the device and the CPU reference (on a CPU-only check:
    ``cpu+variant`` and ``cpu``)."""
    return [str(dev) if dev.type != "cpu" else "cpu+variant", "cpu"]


def commands(dev: torch.device, quick: bool) -> list[Row]:
    """The command-line tools on the device against the same tools on the CPU: seedkit-extract
    (10 x 4.015 s crops of a data dir of wav files, random weights from init seed 0) and
    seedkit-enhance (the model the training section wrote); max abs difference of the outputs.
    On a CPU-only check the first run takes other threads and batch sizes (``CPU_VARIANT``)."""
    rows: list[Row] = []
    root = WORK["root"] / "commands"
    data = root / "data"
    data.mkdir(parents=True)
    n_utts = 2 if quick else 32
    r = np.random.default_rng(0)
    scp, u2s = [], []
    for i in range(n_utts):
        path = root / f"u{i:03d}.wav"
        sf.write(path, (0.1 * r.standard_normal(6 * 16000)).astype(np.float32), 16000)
        scp.append(f"u{i:03d} {path}\n")
        u2s.append(f"u{i:03d} s{i % 4}\n")
    (data / "wav.scp").write_text("".join(scp))
    (data / "utt2spk").write_text("".join(u2s))
    confs = (["egs/voxceleb/seed/conf/test_tiny_resnet.yaml"] if quick else
             ["egs/voxceleb/seed/conf/resnetse34v2.yaml", "egs/voxceleb/seed/conf/ecapa_tdnn.yaml"])
    for conf in confs:
        name = Path(conf).stem
        outs = {}
        run, ref = _runs(dev)
        for d in (run, ref):
            out = root / f"{name}.{d.replace(':', '').replace('+', '-')}"
            extra = _variant("seedkit.bin.extract", dev, d)
            sec, err = _run_module("seedkit.bin.extract", [
                "--config", str(REPO / conf), "--allow-random-weights", "--crop", "multi:10:4.015",
                "--device", d.split("+")[0], "--no-progress", *extra, str(data),
                f"ark,scp:{out}.ark,{out}.scp"])
            if err:
                return rows + [(f"command: seedkit-extract {name}", d, "FAIL", err)]
            outs[d] = (out.with_suffix(out.suffix + ".scp"), sec)
        diff = _max_diff(outs[run][0], outs[ref][0])
        ok = "ok" if diff <= 1e-3 else "FAIL"
        rows.append((f"command: seedkit-extract {name}",
                     f"{n_utts} utts x 10 crops, {_setting('seedkit.bin.extract', dev)}",
                     f"{ok} (max abs diff vs cpu {diff:.2e})",
                     f"{outs[run][1]:.1f} s on {dev.type} (start-up included), "
                     f"{outs[ref][1]:.1f} s on cpu"))
    if "final.pt" not in WORK:
        return rows + [("command: seedkit-enhance", str(dev), "FAIL", "the training section "
                        "left no model")]
    dim = 64 if quick else 512  # the training section's model
    src = root / "enh_in"
    vecs = r.standard_normal((256, dim)).astype(np.float32)
    write_embeddings(f"ark,scp:{src}.ark,{src}.scp", ((f"e{i:04d}", v) for i, v in enumerate(vecs)))
    outs = {}
    run, ref = _runs(dev)
    for d in (run, ref):
        out = root / f"enh.{d.replace(':', '').replace('+', '-')}"
        sec, err = _run_module("seedkit.bin.enhance", [
            "--device", d.split("+")[0], *_variant("seedkit.bin.enhance", dev, d),
            str(WORK["final.pt"]), f"scp:{src}.scp", f"ark,scp:{out}.ark,{out}.scp"])
        if err:
            return rows + [("command: seedkit-enhance", d, "FAIL", err)]
        outs[d] = (Path(f"{out}.scp"), sec)
    diff = _max_diff(outs[run][0], outs[ref][0])
    rows.append(("command: seedkit-enhance",
                 f"256 x D={dim}, {_setting('seedkit.bin.enhance', dev)}",
                 f"{'ok' if diff <= 1e-4 else 'FAIL'} (max abs diff vs cpu {diff:.2e})",
                 f"{outs[run][1]:.1f} s on {dev.type}, {outs[ref][1]:.1f} s on cpu "
                 "(start-up included)"))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--quick", action="store_true", help="small sizes (the CPU smoke run)")
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            print(f"ERROR (gpu_check.py): --device {args.device}: this machine has {count} CUDA "
                  "device(s); use --device cpu (with --quick) or an existing GPU",
                  file=sys.stderr)
            return 1
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu x {os.cpu_count()}"
    print(f"# seedkit GPU check: {name}, torch {torch.__version__}, "
          f"{'quick' if args.quick else 'full'} run")
    rows: list[Row] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        WORK["root"] = Path(tmp)
        for section in (equivalence, extraction, training, steady_state, enhancement, commands):
            try:
                rows += section(dev, args.quick)
            except Exception as e:  # one broken section is a FAIL row; the others still run
                rows.append((section.__name__, str(dev), "FAIL",
                             f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
    print("| check | setting | value | note |")
    print("|---|---|---:|---|")
    for check, setting, value, note in rows:
        print(f"| {check} | {setting} | {value} | {note} |")
    for line in STEADY:
        print(f"# {line}")
    print(f"# {len(rows)} rows in {time.perf_counter() - t0:.0f} s")
    failed = [r for r in rows if r[2].startswith("FAIL")]
    for r in failed:
        print(f"ERROR (gpu_check.py): {r[0]} {r[1]}: {r[3] or r[2]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
