"""Stage 0 of the VoxCeleb recipe: get each corpus onto disk, resumably, or use one already there.

``ensure_corpus(name, corpora_dir)`` leaves ``<corpora_dir>/<dir>`` in the layout the
``prepare_*`` functions read, and writes the marker ``<corpora_dir>/.seedkit_<name>.complete``
once the layout checks out; a later call with the marker present does nothing. With
``on_disk=PATH`` nothing is downloaded: ``PATH`` is checked and linked as ``<corpora_dir>/<dir>``.

======================  =======================  ==================================================
name                    ``<corpora_dir>/<dir>``  source
======================  =======================  ==================================================
voxceleb1               voxceleb1/               lhotse's ``VOXCELEB1_PARTS_URL`` (dev parts, test
                                                 zip, ``vox1_meta.csv``) + ``veri_test2.txt``;
                                                 ``parts=("test",)``: test zip and meta only
musan                   musan/                   lhotse ``download_musan`` (OpenSLR 17)
rirs_noises             RIRS_NOISES/             lhotse ``download_rir_noise`` (OpenSLR 28)
librittsr               LibriTTS_R/              lhotse ``download_librittsr`` (OpenSLR 141)
librilight              librilight/small/        ``small.tar`` from the Libri-Light URL, md5 checked
voxconverse_sv          voxconverse_test_SV/     the SEED authors' ``voxconverse_test_SV.zip``
======================  =======================  ==================================================

Every archive is fetched by :func:`fetch`: into ``<name>.part``, resumed with an HTTP ``Range``
request after an interruption (restarted when the server ignores it), checked against an md5 when
one is known, then renamed. lhotse's own ``resumable_download`` is swapped for it inside lhotse's
download functions because it appends a whole response to a partial file when the server ignores
``Range`` (and for ``file://`` URLs); ``download_voxceleb1`` is not used as is because it keeps the
parts in a temporary directory (lost on interruption) and skips the unzip whenever the dev zip
exists, so seedkit fetches lhotse's part URLs itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Optional

from tqdm import tqdm

from seedkit.errors import PathLike, SeedkitError
from seedkit.prepare.archive import (
    lhotse_safe_extract,
    safe_untar,
    safe_unzip,
    safe_zipfile_module,
)
from seedkit.prepare.common import patched

# lhotse is imported in the download functions that use it: importing it takes seconds, and
# linking a corpus on disk (--on-disk), Libri-Light and VoxConverse-SV never need it

log = logging.getLogger(__name__)

VOX1_TRIALS_URL = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/veri_test2.txt"
LIBRILIGHT_SMALL_URL = "https://dl.fbaipublicfiles.com/librilight/data/small.tar"
#: md5 of small.tar as published beside the Libri-Light download commands
LIBRILIGHT_SMALL_MD5 = "c49207eb86a8e8ac895561c37232041e"
VOXCONVERSE_SV_URL = "https://mm.kaist.ac.kr/projects/seed-pytorch/voxconverse_test_SV.zip"
OPENSLR = "http://www.openslr.org/resources"

CORPUS_DIRS = {
    "voxceleb1": "voxceleb1",
    "musan": "musan",
    "rirs_noises": "RIRS_NOISES",
    "librittsr": "LibriTTS_R",
    "librilight": "librilight",
    "voxconverse_sv": "voxconverse_test_SV",
}
DEFAULT_LIBRITTSR_PARTS = ("train-clean-100", "train-clean-360")
#: VoxCeleb1's downloadable parts: ``dev`` (4 zip pieces, tens of GB; 1,211 speakers) and
#: ``test`` (``vox1_test_wav.zip``, about 1 GB; the 40 speakers of VoxCeleb1-O). The SEED recipe
#: reads test only.
VOXCELEB1_PARTS = ("dev", "test")
CHUNK = 1 << 20


# ----------------------------------------------------------------------------- fetching

def open_url(url: str, start: int) -> tuple[Optional[BinaryIO], Optional[int], bool]:
    """Open ``url`` from byte ``start``: ``(stream, total size or None, resumed)``.

    ``stream`` is None when the range starts at the end (already complete). ``resumed`` is False
    when the server sent the whole file (the caller restarts). Tests replace this function.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = urllib.request.url2pathname(parsed.path)
        size = os.path.getsize(path)
        f = open(path, "rb")
        f.seek(min(start, size))
        return (None if start >= size else f), size, True
    headers = {"User-Agent": "seedkit (python urllib)"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416:
            return None, start, True
        raise
    length = resp.headers.get("Content-Length")
    if resp.status == 206:
        total = start + int(length) if length else None
        return resp, total, True
    return resp, (int(length) if length else None), start == 0


def md5sum(path: PathLike) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: PathLike, md5: Optional[str] = None, force: bool = False) -> Path:
    """Download ``url`` to ``dest`` resumably (``dest.part``), check ``md5``, rename.

    A ``dest`` already there is kept (its md5 checked when given). Failures raise
    :class:`SeedkitError` saying how to get the file by hand.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if force:
        for p in (dest, part):
            if p.exists():
                p.unlink()
    if not dest.exists():
        start = part.stat().st_size if part.exists() else 0
        try:
            stream, total, resumed = open_url(url, start)
            if stream is not None:
                if not resumed:
                    start = 0
                mode = "ab" if start else "wb"
                with stream, open(part, mode) as out, tqdm(
                        total=total, initial=start, unit="B", unit_scale=True,
                        desc=dest.name, leave=False) as bar:
                    for block in iter(lambda: stream.read(CHUNK), b""):
                        out.write(block)
                        bar.update(len(block))
        except (OSError, urllib.error.URLError, ValueError) as err:
            raise SeedkitError(f"download of {url} failed ({err}); check the network and run "
                               "again (it resumes), or fetch the file yourself to this path",
                               dest) from None
        os.replace(part, dest)
    if md5:
        got = md5sum(dest)
        if got != md5:
            bad = dest.with_name(dest.name + ".bad")
            os.replace(dest, bad)
            raise SeedkitError(f"md5 of {url} is {got}, expected {md5}; the download is "
                               f"corrupt (moved to {bad.name}); run again to fetch it anew", dest)
    return dest


def _lhotse_fetch(url, filename, force_download=False, **_kw) -> None:
    """Stand-in for ``lhotse.utils.resumable_download`` inside lhotse's download functions."""
    fetch(url, filename, force=bool(force_download))


def unzip(archive: PathLike, target: PathLike) -> None:
    safe_unzip(archive, target)


def untar(archive: PathLike, target: PathLike) -> None:
    safe_untar(archive, target)


# ----------------------------------------------------------------------------- layout checks

def _need(path: Path, pattern: str, msg: str) -> None:
    """Raise ``SeedkitError(msg, path)`` unless a file below the directory ``path`` matches
    ``pattern``."""
    if not (path.is_dir() and next(path.rglob(pattern), None) is not None):
        raise SeedkitError(msg, path)


def check_layout(name: str, path: PathLike, parts: tuple[str, ...] = DEFAULT_LIBRITTSR_PARTS
                 ) -> None:
    """Raise :class:`SeedkitError` unless ``path`` holds corpus ``name`` in its published layout."""
    p = Path(path)
    if not p.is_dir():
        raise SeedkitError(f"{name} directory not found", p)
    if name == "voxceleb1":
        if not (p / "vox1_meta.csv").is_file():
            raise SeedkitError("VoxCeleb1 needs vox1_meta.csv here", p / "vox1_meta.csv")
        if not (p / "veri_test2.txt").is_file():
            log.warning("%s has no veri_test2.txt (VoxCeleb1-O cleaned, %s); give it to "
                        "seedkit-prepare-corpus with --trials", p, VOX1_TRIALS_URL)
        _need(p / "wav", "*.wav", "VoxCeleb1 needs wav/idXXXXX/<video>/NNNNN.wav files")
    elif name == "musan":
        for cat in ("music", "noise", "speech"):
            _need(p / cat, "*.wav", f"MUSAN needs {cat}/<subset>/*.wav")
    elif name == "rirs_noises":
        _need(p / "simulated_rirs", "*.wav",
              "RIRS_NOISES needs simulated_rirs/<size>room/RoomNNN/*.wav")
    elif name == "librittsr":
        for part in parts:
            _need(p / part, "*.wav", f"LibriTTS-R needs {part}/<spk>/<chapter>/*.wav")
    elif name == "librilight":
        _need(p / "small", "*.flac", "Libri-Light needs small/<spk>/<book>/*.flac (+ .json)")
    elif name == "voxconverse_sv":
        if not (p / "trials_wo_overlap.txt").is_file():
            raise SeedkitError("VoxConverse-SV needs trials_wo_overlap.txt and its wav files",
                               p / "trials_wo_overlap.txt")
    else:
        raise SeedkitError(f"unknown corpus {name!r}; one of {', '.join(CORPUS_DIRS)}")


# ----------------------------------------------------------------------------- downloaders

def voxceleb1_part_of(name: str) -> str:
    """The VoxCeleb1 part of a file of lhotse's ``VOXCELEB1_PARTS_URL`` (``meta``: both)."""
    if name.startswith("vox1_dev_wav_part"):
        return "dev"
    return "test" if name.startswith("vox1_test_wav") else "meta"


def download_voxceleb1(target: Path, force: bool = False, trials_url: str = VOX1_TRIALS_URL,
                       parts: tuple[str, ...] = VOXCELEB1_PARTS) -> None:
    """lhotse's VoxCeleb1 part URLs (those of ``parts``), fetched resumably into
    ``<target>/.download/``, unzipped into ``<target>``; ``vox1_meta.csv`` and the trial list
    always."""
    from lhotse.recipes.voxceleb import VOXCELEB1_PARTS_URL

    cache = target / ".download"
    wanted = set(parts) | {"meta"}
    urls = {Path(urllib.parse.urlparse(u).path).name: u for u in VOXCELEB1_PARTS_URL}
    names = [n for n in urls if voxceleb1_part_of(n) in wanted]
    for name in names:
        fetch(urls[name], cache / name, force=force)
    if "dev" in parts:
        _join_voxceleb1_dev(target, cache, names, force)
    if "test" in parts:
        unzip(cache / "vox1_test_wav.zip", target)
    shutil.copyfile(cache / "vox1_meta.csv", target / "vox1_meta.csv")
    fetch(trials_url, target / "veri_test2.txt", force=force)


def _join_voxceleb1_dev(target: Path, cache: Path, names: list[str], force: bool) -> None:
    """Concatenate the dev pieces into ``vox1_dev_wav.zip`` (atomically) and unzip it."""
    dev_zip = target / "vox1_dev_wav.zip"
    if force or not dev_zip.is_file():
        tmp = dev_zip.with_name(dev_zip.name + ".tmp")
        with open(tmp, "wb") as out:
            for name in sorted(n for n in names if n.startswith("vox1_dev_wav_part")):
                with open(cache / name, "rb") as f:
                    shutil.copyfileobj(f, out, CHUNK)
        os.replace(tmp, dev_zip)
    unzip(dev_zip, target)


def download_musan(corpora: Path, url: Optional[str] = None, force: bool = False) -> None:
    import lhotse.recipes.musan as m

    if force:
        (corpora / ".musan_completed").unlink(missing_ok=True)
    with patched(m, "resumable_download", _lhotse_fetch), \
            patched(m, "safe_extract", lhotse_safe_extract):
        m.download_musan(corpora, url=url or m.MUSAN_URL, force_download=force)


def download_rirs_noises(corpora: Path, url: Optional[str] = None, force: bool = False) -> None:
    import lhotse.recipes.rir_noise as r

    url = url or r.RIR_NOISE_ZIP_URL
    fetch(url, corpora / "rirs_noises.zip", force=force)  # lhotse never resumes this zip
    if force:
        shutil.rmtree(corpora / "RIRS_NOISES", ignore_errors=True)
    with patched(r, "resumable_download", _lhotse_fetch), \
            patched(r, "zipfile", safe_zipfile_module):
        r.download_rir_noise(corpora, url=url)


def download_librittsr(corpora: Path, parts: tuple[str, ...] = DEFAULT_LIBRITTSR_PARTS,
                       base_url: str = OPENSLR, force: bool = False) -> None:
    import lhotse.recipes.libritts as lt

    if force:
        for part in parts:
            (corpora / "LibriTTS_R" / part / ".completed").unlink(missing_ok=True)
    with patched(lt, "resumable_download", _lhotse_fetch), \
            patched(lt, "safe_extract", lhotse_safe_extract):
        lt.download_librittsr(corpora, dataset_parts=list(parts), base_url=base_url,
                              force_download=force)


def download_librilight(target: Path, url: str = LIBRILIGHT_SMALL_URL,
                        md5: Optional[str] = LIBRILIGHT_SMALL_MD5, force: bool = False) -> None:
    archive = fetch(url, target / "small.tar", md5=md5, force=force)
    untar(archive, target)


def download_voxconverse_sv(corpora: Path, url: str = VOXCONVERSE_SV_URL,
                            md5: Optional[str] = None, force: bool = False) -> None:
    archive = fetch(url, corpora / "voxconverse_test_SV.zip", md5=md5, force=force)
    unzip(archive, corpora)


# ----------------------------------------------------------------------------- entry point

def marker_path(corpora_dir: PathLike, name: str) -> Path:
    return Path(corpora_dir) / f".seedkit_{name}.complete"


def marker_parts(marker: Path) -> Optional[set[str]]:
    """The parts a completion marker records (``parts: a b``), or None for a whole corpus."""
    for line in marker.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("parts:"):
            return set(line.split()[1:])
    return None


def ensure_corpus(name: str, corpora_dir: PathLike, on_disk: Optional[PathLike] = None,
                  force: bool = False, url: Optional[str] = None, md5: Optional[str] = None,
                  parts: Optional[tuple[str, ...]] = None) -> Path:
    """Make ``<corpora_dir>/<dir of name>`` hold the corpus; return that path.

    Skipped when the marker exists and the layout checks; ``on_disk`` links an existing copy
    instead of downloading; ``url``/``md5`` override the source (``url`` is the base URL for
    LibriTTS-R, and for VoxCeleb1 the trial list URL). ``parts`` are LibriTTS-R's parts, or
    VoxCeleb1's (``dev``, ``test``; a marker that records fewer parts than asked downloads the
    rest); None: every VoxCeleb1 part, LibriTTS-R's ``DEFAULT_LIBRITTSR_PARTS``.
    """
    if name not in CORPUS_DIRS:
        raise SeedkitError(f"unknown corpus {name!r}; one of {', '.join(CORPUS_DIRS)}")
    corpora = Path(corpora_dir)
    corpora.mkdir(parents=True, exist_ok=True)
    dest = corpora / CORPUS_DIRS[name]
    marker = marker_path(corpora, name)
    if parts is None:
        parts = VOXCELEB1_PARTS if name == "voxceleb1" else DEFAULT_LIBRITTSR_PARTS
    if name == "voxceleb1" and (not parts or set(parts) - set(VOXCELEB1_PARTS)):
        raise SeedkitError(f"VoxCeleb1 parts are dev and/or test, got '{' '.join(parts)}'; use "
                           "--parts dev test, or --parts test for an evaluation-only copy")
    if on_disk is not None:
        src = Path(on_disk)
        check_layout(name, src, parts)
        if dest.is_symlink() or dest.exists():
            if not os.path.samefile(dest, src):
                raise SeedkitError(f"{dest} already exists and is not {src}; remove it or use "
                                   "another corpora directory", dest)
        else:
            dest.symlink_to(src.resolve(), target_is_directory=True)
        marker.write_text(f"on disk: {src.resolve()}\n")
        log.info("%s: using the copy on disk at %s (linked as %s)", name, src, dest)
        return dest
    have = marker_parts(marker) if marker.is_file() else None
    if marker.is_file() and not force and (have is None or set(parts) <= have):
        check_layout(name, dest, parts)
        log.info("%s: complete in %s (%s exists); skipping", name, dest, marker.name)
        return dest
    log.info("%s: downloading into %s", name, dest)
    steps: dict[str, Callable[[], None]] = {
        "voxceleb1": lambda: download_voxceleb1(dest, force, url or VOX1_TRIALS_URL, parts),
        "musan": lambda: download_musan(corpora, url, force),
        "rirs_noises": lambda: download_rirs_noises(corpora, url, force),
        "librittsr": lambda: download_librittsr(corpora, parts, url or OPENSLR, force),
        "librilight": lambda: download_librilight(
            dest, url or LIBRILIGHT_SMALL_URL, md5 if url else (md5 or LIBRILIGHT_SMALL_MD5),
            force),
        "voxconverse_sv": lambda: download_voxconverse_sv(corpora, url or VOXCONVERSE_SV_URL,
                                                          md5, force),
    }
    steps[name]()
    check_layout(name, dest, parts)
    if name == "voxceleb1" and set(parts) != set(VOXCELEB1_PARTS):
        marker.write_text(f"downloaded\nparts: {' '.join(sorted(set(parts)))}\n")
    else:
        marker.write_text("downloaded\n")
    return dest


__all__ = [
    "CORPUS_DIRS",
    "VOXCELEB1_PARTS",
    "check_layout",
    "ensure_corpus",
    "fetch",
    "marker_path",
    "md5sum",
    "open_url",
]
