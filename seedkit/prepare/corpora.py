"""Per-corpus preparation: lhotse ``prepare_*`` -> lhotse manifests -> Kaldi data dirs + trials.

Each ``prepare_<corpus>(corpus_dir, data_root)`` reads a corpus in its published layout (the one
``seedkit.prepare.download`` leaves on disk, or your own copy), saves the lhotse manifests under
``<data_root>/manifests/`` and writes Kaldi data dirs (with ``spk2utt``, ``utt2dur``) under
``<data_root>/``. Data dirs point at the original files (pipes for flac and multi-channel files);
``seedkit-resample-data-dir`` makes the 16 kHz mono wav copies.

Written data dirs (``<data_root>/...``):

=========================  ==================================================================
voxceleb1_test, _dev       ``id10270-<yt>-00001`` keys; ``voxceleb1_test/trials`` = VoxCeleb1-O
                           cleaned in Kaldi form (keys checked against the data dir)
librittsr_<part>           e.g. ``librittsr_train_clean_100``; keys ``19-198-000000-000000``
librilight_small           one utterance per chapter file, key ``<spk>-<book>-<file>``
musan, musan_<cat>         every MUSAN file, ``utt2spk`` = its category (music/noise/speech)
rirs                       simulated RIRs ``small-Room001-00001`` (speaker = room size)
voxconverse_sv             files of ``trials_wo_overlap.txt``; key = path with ``/`` -> ``-``
vcmix                      VoxConverse-SV non-target + VoxCeleb1-O target trials (the paper's)
=========================  ==================================================================

lhotse behaviours worked around (lhotse 1.33; the recipes have no public option for the first
three, so seedkit patches the module attribute named for the length of one call, setup.py and
requirements.txt pin ``lhotse>=1.33,<1.34``, and ``tests/test_lhotse_pins.py`` fails naming the
attribute if a lhotse release changes under a patch):

- ``prepare_voxceleb`` reads headers in a process pool even for one job; seedkit uses threads then
  (``ProcessPoolExecutor``).
- ``prepare_voxceleb`` downloads ``voxceleb1_test_v2.txt`` (the uncleaned O list) into the current
  directory and fails offline; seedkit skips that step (``_prepare_voxceleb_trials``) and converts
  the cleaned list itself.
- ``prepare_librilight`` walks small, medium and large and fails (``No recordings left``) when only
  ``small`` is on disk; seedkit restricts it to the parts present (``LIBRILIGHT``).
- ``prepare_librilight`` finds each json by replacing every ``flac`` in the path; a corpus path that
  contains ``flac`` elsewhere breaks it, so seedkit refuses such a path with a clear error.
- Libri-Light recording ids are relative paths (``small/100/<book>/<file>``) that do not start with
  the speaker, so seedkit re-keys them; LibriTTS-R ids use ``_``, which breaks Kaldi's sort
  agreement between ``utt2spk`` and ``spk2utt`` (``190_x`` < ``19_x``), so ``_`` becomes ``-``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import soundfile as sf

from seedkit.data.datadir import (
    DataDir,
    subset_data_dir,
    validate_data_dir,
    write_data_dir,
)
from seedkit.data.trials import Trial, read_trials, voxceleb_path_to_key, write_trials
from seedkit.errors import PathLike, SeedkitError, writing
from seedkit.fileio import atomic_output, c_sorted, write_lines
from seedkit.prepare.kaldi import write_lhotse_data_dir

log = logging.getLogger(__name__)

MUSAN_CATEGORIES = ("music", "noise", "speech")
RIR_PARTS = {"sim_rir": "rirs", "real_rir": "rirs_real", "iso_noise": "noise_isotropic",
             "point_noise": "noise_pointsource"}


# ----------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def patched(obj, name: str, value) -> Iterator[None]:
    """Temporarily replace ``obj.name`` (used to steer lhotse recipes around their quirks)."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def need_dir(path: PathLike, what: str, hint: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise SeedkitError(f"{what} not found; {hint}", path)
    return path


def need_file(path: PathLike, what: str, hint: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise SeedkitError(f"{what} not found; {hint}", path)
    return path


def find_unreadable(files: Iterable[Path]) -> None:
    """Raise a :class:`SeedkitError` naming the first file soundfile cannot open."""
    for f in files:
        try:
            sf.info(str(f))
        except Exception as err:  # LibsndfileError, RuntimeError
            raise SeedkitError(f"cannot read audio file ({err}); it is corrupt or not audio: "
                               "replace or delete it", f) from None


def run_lhotse(what: str, corpus_dir: Path, pattern: str, fn, *args, **kw):
    """Call a lhotse function; on failure name the unreadable file if there is one."""
    try:
        return fn(*args, **kw)
    except SeedkitError:
        raise
    except Exception as err:
        find_unreadable(sorted(corpus_dir.rglob(pattern)))
        raise SeedkitError(f"lhotse {what} failed: {type(err).__name__}: {err}",
                           corpus_dir) from err


def save_manifests(manifest_dir: PathLike, name: str, part: str, recordings,
                   supervisions=None) -> None:
    """Write lhotse manifests to ``<manifest_dir>/<name>_{recordings,supervisions}_<part>``."""
    out = Path(manifest_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_manifest(recordings, out / f"{name}_recordings_{part}.jsonl.gz")
    if supervisions is not None:
        _save_manifest(supervisions, out / f"{name}_supervisions_{part}.jsonl.gz")


def _save_manifest(manifest, path: Path) -> None:
    """``manifest.to_file(path)`` under a temporary name (atomic: a full disk leaves nothing)."""
    with atomic_output(path) as tmp:
        # lhotse picks the format from the suffix: keep ".jsonl.gz" on the temporary
        real = tmp.with_name(tmp.name[:-len(".tmp")] + ".jsonl.gz")
        try:
            with writing(path, real):
                manifest.to_file(real)
            os.replace(real, tmp)
        finally:
            real.unlink(missing_ok=True)


def whole_supervisions(recordings, speaker_of):
    """One supervision per recording covering all of it (for corpora without speakers' sups)."""
    from lhotse import SupervisionSegment, SupervisionSet

    return SupervisionSet.from_segments(
        SupervisionSegment(id=r.id, recording_id=r.id, start=0.0, duration=r.duration,
                           speaker=speaker_of(r)) for r in recordings)


def recordings_from_files(files: Iterable[tuple[str, Path]]):
    """A ``RecordingSet`` from ``(recording_id, path)`` pairs (``Recording.from_file``), naming
    an unreadable file in the error."""
    from lhotse import Recording, RecordingSet

    recs = []
    for rid, path in files:
        try:
            recs.append(Recording.from_file(path, recording_id=rid))
        except Exception as err:
            raise SeedkitError(f"cannot read audio file ({type(err).__name__}: {err}); it is "
                               "corrupt or not audio: replace or delete it", path) from None
    return RecordingSet.from_recordings(recs)


def convert_trials(src: PathLike, dd: DataDir, out: PathLike) -> list[Trial]:
    """Read trials (VoxCeleb or Kaldi form), check their keys are in ``dd``, write Kaldi form."""
    trials = read_trials(src)
    check_trial_keys(trials, dd, src)
    write_trials(out, trials)
    return trials


def check_trial_keys(trials: list[Trial], dd: DataDir, src: PathLike) -> None:
    """Raise naming the first trial (file and line) whose key is not an utterance of ``dd``."""
    have = set(dd.utt2spk)
    for n, t in enumerate(trials, start=1):
        for key in (t.enroll, t.test):
            if key not in have:
                raise SeedkitError(f"trial key {key!r} is not an utterance of {dd.path}; the "
                                   "trial list and the corpus do not match (incomplete "
                                   "corpus, or a list of another corpus)", src, n)


def _mark(data_root: Path, name: str, dirs: list[str]) -> None:
    write_lines(data_root / f".prepared_{name}", dirs)


def _done(data_root: Path, name: str, force: bool) -> Optional[list[str]]:
    stamp = data_root / f".prepared_{name}"
    if force or not stamp.is_file():
        return None
    dirs = stamp.read_text().split()
    if all((data_root / d / "wav.scp").is_file() for d in dirs):
        log.info("%s already prepared in %s (%s); skipping (use --force to redo)", name,
                 data_root, " ".join(dirs))
        return dirs
    return None


# ----------------------------------------------------------------------------- VoxCeleb1

def prepare_voxceleb1(corpus_dir: PathLike, data_root: PathLike, trials: Optional[PathLike] = None,
                      num_jobs: int = 1, manifests: Optional[PathLike] = None,
        force: bool = False) -> list[str]:
    """VoxCeleb1 -> ``voxceleb1_test`` (+ ``trials``) and ``voxceleb1_dev``.

    ``trials`` defaults to ``<corpus_dir>/veri_test2.txt`` (VoxCeleb1-O cleaned, 37,611 trials);
    any list in the VoxCeleb or Kaldi form works.
    """
    corpus_dir = need_dir(corpus_dir, "VoxCeleb1 directory",
                          "download it (seedkit-download-corpus voxceleb1) or pass its path")
    data_root = Path(data_root)
    if (dirs := _done(data_root, "voxceleb1", force)) is not None:
        return dirs
    need_dir(corpus_dir / "wav", "VoxCeleb1 wav/ directory",
             "unzip vox1_dev_wav.zip and vox1_test_wav.zip into the corpus directory")
    need_file(corpus_dir / "vox1_meta.csv", "vox1_meta.csv",
              "download https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/vox1_meta.csv")
    trials = Path(trials) if trials else corpus_dir / "veri_test2.txt"
    need_file(trials, "VoxCeleb1-O trial list", "download veri_test2.txt (seedkit-download-corpus "
              "voxceleb1) or pass --trials")
    import lhotse.recipes.voxceleb as vox

    # one job: threads instead of a process pool (no fork of a big process for header reads)
    pool = ThreadPoolExecutor if num_jobs <= 1 else vox.ProcessPoolExecutor
    with patched(vox, "_prepare_voxceleb_trials", lambda manifests: {}), \
            patched(vox, "ProcessPoolExecutor", pool):
        m = run_lhotse("prepare_voxceleb", corpus_dir, "*.wav", vox.prepare_voxceleb,
                       voxceleb1_root=corpus_dir, output_dir=None, num_jobs=num_jobs)
    written = []
    for split, name in (("test", "voxceleb1_test"), ("train", "voxceleb1_dev")):
        if split not in m or len(m[split]["recordings"]) == 0:
            log.warning("VoxCeleb1 has no %s speakers in vox1_meta.csv / wav/", split)
            continue
        save_manifests(manifests or data_root / "manifests",
                       "voxceleb1", split, m[split]["recordings"],
                       m[split]["supervisions"])
        dd = write_lhotse_data_dir(m[split]["recordings"], m[split]["supervisions"],
                                   data_root / name)
        written.append(name)
        if split == "test":
            tr = convert_trials(trials, dd, data_root / name / "trials")
            log.info("%s: %d utterances, %d trials (%d target)", name, len(dd), len(tr),
                     sum(t.target for t in tr))
    if "voxceleb1_test" not in written:
        raise SeedkitError("no VoxCeleb1 test speakers found (Set column 'test' in "
                           "vox1_meta.csv with files under wav/)", corpus_dir / "vox1_meta.csv")
    _mark(data_root, "voxceleb1", written)
    return written


# ----------------------------------------------------------------------------- LibriTTS-R

def librittsr_dir_name(part: str) -> str:
    return "librittsr_" + part.replace("-", "_")


def prepare_librittsr(corpus_dir: PathLike, data_root: PathLike,
                      parts: tuple[str, ...] = ("train-clean-100", "train-clean-360"),
                      num_jobs: int = 1, manifests: Optional[PathLike] = None,
                      force: bool = False) -> list[str]:
    """LibriTTS-R (``<corpus_dir>`` = the ``LibriTTS_R`` directory) -> ``librittsr_<part>``."""
    corpus_dir = need_dir(corpus_dir, "LibriTTS-R directory (LibriTTS_R)",
                          "download it (seedkit-download-corpus librittsr) or pass its path")
    data_root = Path(data_root)
    if (dirs := _done(data_root, "librittsr", force)) is not None:
        return dirs
    for part in parts:
        need_dir(corpus_dir / part, f"LibriTTS-R part {part}",
                 "download that part or leave it out of --parts")
    from lhotse.recipes import prepare_librittsr as lhotse_prepare

    m = run_lhotse("prepare_librittsr", corpus_dir, "*.wav", lhotse_prepare, corpus_dir,
                   dataset_parts=list(parts), output_dir=None, num_jobs=num_jobs)
    written = []
    for part in parts:
        recs, sups = m[part]["recordings"], m[part]["supervisions"]
        save_manifests(manifests or data_root / "manifests",
                       "librittsr", part, recs, sups)
        name = librittsr_dir_name(part)
        dd = write_lhotse_data_dir(recs, sups, data_root / name,
                                   rec_key=lambda r: r.replace("_", "-"))
        log.info("%s: %d utterances, %d speakers", name, len(dd), len(dd.spk2utt))
        written.append(name)
    _mark(data_root, "librittsr", written)
    return written


# ----------------------------------------------------------------------------- Libri-Light

def librilight_key(rec_id: str) -> str:
    """``small/100/<book>/<file>`` -> ``100-<book>-<file>`` (starts with the speaker)."""
    parts = rec_id.split("/")
    if len(parts) < 4:
        raise SeedkitError(f"unexpected Libri-Light recording id {rec_id!r}; expected "
                           "<subset>/<speaker>/<book>/<file>")
    return "-".join(parts[1:])


def prepare_librilight(corpus_dir: PathLike, data_root: PathLike, num_jobs: int = 1,
                       segments: bool = False, manifests: Optional[PathLike] = None,
        force: bool = False) -> list[str]:
    """Libri-Light (``<corpus_dir>/small/...``) -> ``librilight_<subset>``.

    One utterance per chapter file (``segments=False``, as SEED crops once per file), or one per
    voice-activity segment of the json (``segments=True``, writes ``segments``).
    """
    corpus_dir = need_dir(corpus_dir, "Libri-Light directory",
                          "download small.tar (seedkit-download-corpus librilight) or pass its "
                          "path (the directory holding small/)")
    corpus_dir = Path(corpus_dir)
    if "flac" in str(corpus_dir):
        raise SeedkitError("lhotse's Libri-Light recipe finds each json by replacing 'flac' in "
                           "the whole path; move or link the corpus to a path without 'flac'",
                           corpus_dir)
    data_root = Path(data_root)
    if (dirs := _done(data_root, "librilight", force)) is not None:
        return dirs
    import lhotse.recipes.librilight as ll

    present = tuple(p for p in ll.LIBRILIGHT if any((corpus_dir / p).rglob("*.flac")))
    if not present:
        raise SeedkitError("no Libri-Light part (small/medium/large) with .flac files here",
                           corpus_dir)
    with patched(ll, "LIBRILIGHT", present):
        m = run_lhotse("prepare_librilight", corpus_dir, "*.flac", ll.prepare_librilight,
                       corpus_dir, output_dir=None, num_jobs=num_jobs)
    written = []
    for part in present:
        recs, sups = m[part]["recordings"], m[part]["supervisions"]
        save_manifests(manifests or data_root / "manifests",
                       "librilight", part, recs, sups)
        name = f"librilight_{part}"
        dd = write_lhotse_data_dir(
            recs, sups, data_root / name, rec_key=librilight_key, segments=segments,
            utt_key=lambda s: librilight_key(s.recording_id) + "-" + s.id.rsplit("_", 1)[1])
        log.info("%s: %d utterances, %d speakers", name, len(dd), len(dd.spk2utt))
        written.append(name)
    _mark(data_root, "librilight", written)
    return written


# ----------------------------------------------------------------------------- MUSAN

def prepare_musan(corpus_dir: PathLike, data_root: PathLike, name: str = "musan",
                  categories: tuple[str, ...] = MUSAN_CATEGORIES,
                  manifests: Optional[PathLike] = None, force: bool = False) -> list[str]:
    """Raw MUSAN (``<corpus_dir>/{music,noise,speech}/<subset>/*.wav``) -> ``<name>`` (all files,
    ``utt2spk`` = category) and ``<name>_<category>``. No musan_split step is needed: the
    augmentation crops noise files at random offsets itself."""
    corpus_dir = need_dir(corpus_dir, "MUSAN directory",
                          "download it (seedkit-download-corpus musan) or pass its path")
    data_root = Path(data_root)
    if (dirs := _done(data_root, name, force)) is not None:
        return dirs
    for cat in categories:
        d = need_dir(corpus_dir / cat, f"MUSAN {cat}/ directory",
                     "the MUSAN layout is <musan>/{music,noise,speech}/<subset>/*.wav")
        if not any(d.rglob("*.wav")):
            raise SeedkitError(f"MUSAN {cat}/ has no .wav files; the MUSAN layout is "
                               f"<musan>/{cat}/<subset>/*.wav", d)
    from lhotse.recipes import prepare_musan as lhotse_prepare

    m = run_lhotse("prepare_musan", corpus_dir, "*.wav", lhotse_prepare, corpus_dir,
                   output_dir=None, parts=categories)
    from lhotse import RecordingSet

    written = []
    all_recs = []
    for cat in categories:
        recs = m[cat]["recordings"]
        save_manifests(manifests or data_root / "manifests",
                       name, cat, recs, m[cat].get("supervisions"))
        write_lhotse_data_dir(recs, whole_supervisions(recs, lambda r, c=cat: c),
                              data_root / f"{name}_{cat}")
        written.append(f"{name}_{cat}")
        all_recs.extend(recs)
    everything = RecordingSet.from_recordings(all_recs)
    cat_of = {r.id: cat for cat in categories for r in m[cat]["recordings"]}
    dd = write_lhotse_data_dir(everything, whole_supervisions(everything, lambda r: cat_of[r.id]),
                               data_root / name)
    log.info("%s: %d files (%s)", name, len(dd),
             ", ".join(f"{c} {len(dd.spk2utt.get(c, []))}" for c in categories))
    written.insert(0, name)
    _mark(data_root, name, written)
    return written


# ----------------------------------------------------------------------------- RIRS_NOISES

def prepare_rirs(corpus_dir: PathLike, data_root: PathLike, parts: tuple[str, ...] = ("sim_rir",),
                 name: str = "rirs", manifests: Optional[PathLike] = None,
                 force: bool = False) -> list[str]:
    """RIRS_NOISES (``<corpus_dir>`` = ``RIRS_NOISES``) -> ``<name>`` (simulated RIRs, speaker =
    room size) and, if asked, ``<name>_real``, ``noise_isotropic``, ``noise_pointsource``."""
    corpus_dir = need_dir(corpus_dir, "RIRS_NOISES directory",
                          "download it (seedkit-download-corpus rirs_noises) or pass its path")
    data_root = Path(data_root)
    stamp = name if name != "rirs" else "rirs_noises"
    if (dirs := _done(data_root, stamp, force)) is not None:
        return dirs
    from lhotse.recipes.rir_noise import PARTS
    from lhotse.recipes.rir_noise import prepare_rir_noise as lhotse_prepare

    for part in parts:
        if part not in PARTS:
            raise SeedkitError(f"unknown RIRS_NOISES part {part!r}; use {sorted(PARTS)}")
        need_dir(corpus_dir / PARTS[part], f"RIRS_NOISES/{PARTS[part]}",
                 "the layout is RIRS_NOISES/simulated_rirs/{small,medium,large}room/RoomNNN/*.wav")
    if "sim_rir" in parts and not any((corpus_dir / "simulated_rirs").rglob("*.wav")):
        raise SeedkitError("no simulated RIR .wav files", corpus_dir / "simulated_rirs")
    m = run_lhotse("prepare_rir_noise", corpus_dir, "*.wav", lhotse_prepare, corpus_dir,
                   output_dir=None, parts=parts)
    written = []
    for part in parts:
        recs = m[part]["recordings"]
        if len(recs) == 0:
            raise SeedkitError(f"RIRS_NOISES part {part} has no files lhotse accepts",
                               corpus_dir / PARTS[part])
        save_manifests(manifests or data_root / "manifests",
                       name, part.replace("_", "-"), recs)
        out = name if part == "sim_rir" else (
            f"{name}_real" if part == "real_rir" else RIR_PARTS[part])
        spk = (lambda r: r.id.split("-")[0]) if part == "sim_rir" else (lambda r: r.id)
        write_lhotse_data_dir(recs, whole_supervisions(recs, spk), data_root / out)
        written.append(out)
    _mark(data_root, stamp, written)
    return written


# ----------------------------------------------------------------------------- VoxConverse-SV

VC_TRIALS = "trials_wo_overlap.txt"


def prepare_voxconverse_sv(corpus_dir: PathLike, data_root: PathLike,
                           trials: Optional[PathLike] = None, manifests: Optional[PathLike] = None,
        force: bool = False) -> list[str]:
    """VoxConverse-test-SV (the SEED repo's zip) -> ``voxconverse_sv`` with all its trials.

    The data dir holds every file named in ``trials_wo_overlap.txt`` (paths relative to the
    corpus dir; key = path without ``.wav``, ``/`` -> ``-``). The zip names no speakers, so each
    utterance is its own speaker in ``utt2spk`` (the trials carry the labels).
    """
    corpus_dir = need_dir(corpus_dir, "VoxConverse-SV directory (voxconverse_test_SV)",
                          "download it (seedkit-download-corpus voxconverse_sv) or pass its path")
    data_root = Path(data_root)
    if (dirs := _done(data_root, "voxconverse_sv", force)) is not None:
        return dirs
    trials = need_file(Path(trials) if trials else corpus_dir / VC_TRIALS,
                       "VoxConverse-SV trial list", f"it ships as {VC_TRIALS} in the zip")
    raw = read_trials(trials, key_mapping="path")
    paths = c_sorted({p for t in raw for p in (t.enroll, t.test)})
    for n, t in enumerate(raw, start=1):
        for p in (t.enroll, t.test):
            if not (corpus_dir / p).is_file():
                raise SeedkitError(f"trial file {p} does not exist under {corpus_dir}; "
                                   "the corpus is incomplete", trials, n)
    recs = recordings_from_files((voxceleb_path_to_key(p), corpus_dir / p) for p in paths)
    save_manifests(manifests or data_root / "manifests",
                       "voxconverse_sv", "test", recs)
    dd = write_lhotse_data_dir(recs, whole_supervisions(recs, lambda r: r.id),
                               data_root / "voxconverse_sv")
    tr = convert_trials(trials, dd, data_root / "voxconverse_sv" / "trials")
    log.info("voxconverse_sv: %d utterances, %d trials (%d non-target)", len(dd), len(tr),
             sum(not t.target for t in tr))
    _mark(data_root, "voxconverse_sv", ["voxconverse_sv"])
    return ["voxconverse_sv"]


def make_vcmix(vox1_dir: PathLike, vc_dir: PathLike, out_dir: PathLike) -> dict[str, int]:
    """VC-Mix (``seed-method.md`` §5.1): every non-target trial of VoxConverse-SV
    (``<vc_dir>/trials``) followed by every target trial of VoxCeleb1-O
    (``<vox1_dir>/trials``), with a data dir holding exactly the utterances they use."""
    vox = validate_data_dir(vox1_dir, check_files=False, check_spk_sort=False)
    vc = validate_data_dir(vc_dir, check_files=False, check_spk_sort=False)
    vox_t = read_trials(Path(vox1_dir) / "trials")
    vc_t = read_trials(Path(vc_dir) / "trials")
    check_trial_keys(vox_t, vox, Path(vox1_dir) / "trials")  # as documented: every key checked
    check_trial_keys(vc_t, vc, Path(vc_dir) / "trials")
    trials = [t for t in vc_t if not t.target] + [t for t in vox_t if t.target]
    if not any(not t.target for t in trials) or not any(t.target for t in trials):
        raise SeedkitError("VC-Mix needs non-target trials from VoxConverse-SV and target trials "
                           "from VoxCeleb1-O; one of the lists has none", Path(vc_dir) / "trials")
    clash = set(vox.utt2spk) & set(vc.utt2spk)
    if clash:
        raise SeedkitError(f"{len(clash)} keys are in both data dirs (first "
                           f"{c_sorted(clash)[:3]}); cannot merge", vc_dir)
    need_vc = {k for t in vc_t if not t.target for k in (t.enroll, t.test)}
    need_vox = {k for t in vox_t if t.target for k in (t.enroll, t.test)}
    a, b = subset_data_dir(vox, need_vox), subset_data_dir(vc, need_vc)
    merged = DataDir()
    for field in ("wav_scp", "utt2spk"):
        both = {**getattr(a, field), **getattr(b, field)}
        setattr(merged, field, OrderedDict((k, both[k]) for k in c_sorted(both)))
    if a.utt2dur is not None and b.utt2dur is not None:
        both = {**a.utt2dur, **b.utt2dur}
        merged.utt2dur = OrderedDict((k, both[k]) for k in c_sorted(both))
    write_data_dir(merged, out_dir)
    write_trials(Path(out_dir) / "trials", trials)
    counts = {"nontarget": sum(not t.target for t in trials),
              "target": sum(t.target for t in trials), "utterances": len(merged.utt2spk)}
    log.info("vcmix: %(nontarget)d non-target + %(target)d target trials, %(utterances)d "
             "utterances", counts)
    return counts


__all__ = [
    "MUSAN_CATEGORIES",
    "convert_trials",
    "librilight_key",
    "librittsr_dir_name",
    "make_vcmix",
    "patched",
    "prepare_librilight",
    "prepare_librittsr",
    "prepare_musan",
    "prepare_rirs",
    "prepare_voxceleb1",
    "prepare_voxconverse_sv",
]
