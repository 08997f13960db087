"""Hostile archives (built here) are refused with one ERROR line naming the archive and the
member, nothing is written outside the corpora folder and no completion marker appears; both for
the archives seedkit unpacks itself and for those lhotse's download functions unpack."""

import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from seedkit.errors import SeedkitError
from seedkit.prepare import archive, download


def _tar(members, gz=False) -> bytes:
    """members: (name, kind, payload-or-linkname); kind in file, dir, sym, hard, chr, fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = extra.encode()
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _zip(names) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(zipfile.ZipInfo(name), "x")
    return buf.getvalue()


HOSTILE_TARS = {
    "symlink-up-then-write-through": [("small", "dir", None), ("small/evil", "sym", "../../.."),
                                      ("small/evil/pwned", "file", "x")],
    "dotdot-member": [("small/../../pwned", "file", "x")],
    "absolute-member": [("/tmp/seedkit-pwned-abs", "file", "x")],
    "absolute-symlink": [("small/etc", "sym", "/etc")],
    "hardlink-outside": [("small/passwd", "hard", "/etc/passwd")],
    "hardlink-dotdot": [("small/x", "hard", "../../pwned")],
    "hardlink-to-nothing": [("small/x", "hard", "small/missing")],
    "char-device": [("small/null", "chr", None)],
    "fifo": [("small/fifo", "fifo", None)],
    "link-chain": [("small/a", "sym", "."), ("small/a/b", "sym", "../..")],
}
HOSTILE_ZIPS = {
    "zip-dotdot": ["voxconverse_test_SV/../../pwned"],
    "zip-absolute": ["/tmp/seedkit-pwned-zip"],
    "zip-backslash-dotdot": ["voxconverse_test_SV\\..\\..\\pwned"],
    "zip-drive": ["C:/pwned"],
}


def _nothing_outside(root: Path):
    assert not (root.parent / "pwned").exists()
    assert not (root.parent.parent / "pwned").exists()
    assert not Path("/tmp/seedkit-pwned-abs").exists()
    assert not Path("/tmp/seedkit-pwned-zip").exists()


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_refused_by_librilight_download(tmp_path, case):
    src = tmp_path / "small.tar"
    src.write_bytes(_tar(HOSTILE_TARS[case]))
    corpora = tmp_path / "a" / "corpora"
    with pytest.raises(SeedkitError, match="unsafe archive member") as err:
        download.ensure_corpus("librilight", corpora, url=src.as_uri(), md5=None)
    assert err.value.path.endswith("small.tar")
    _nothing_outside(corpora)
    assert not download.marker_path(corpora, "librilight").exists()
    assert not (corpora / "librilight" / "small").exists()  # nothing extracted at all


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_refused_by_voxconverse_download(tmp_path, case):
    src = tmp_path / "voxconverse_test_SV.zip"
    src.write_bytes(_zip(HOSTILE_ZIPS[case]))
    corpora = tmp_path / "a" / "corpora"
    with pytest.raises(SeedkitError, match="unsafe archive member"):
        download.ensure_corpus("voxconverse_sv", corpora, url=src.as_uri())
    _nothing_outside(corpora)
    assert not download.marker_path(corpora, "voxconverse_sv").exists()


def test_lhotse_musan_tar_gz_is_checked(tmp_path):
    src = tmp_path / "musan.tar.gz"
    src.write_bytes(_tar(HOSTILE_TARS["symlink-up-then-write-through"], gz=True))
    corpora = tmp_path / "a" / "corpora"
    with pytest.raises(SeedkitError, match="unsafe archive member 'small/evil'"):
        download.ensure_corpus("musan", corpora, url=src.as_uri())
    _nothing_outside(corpora)
    assert not (corpora / ".musan_completed").exists()
    assert not download.marker_path(corpora, "musan").exists()


def test_lhotse_rirs_zip_is_checked(tmp_path):
    src = tmp_path / "rirs.zip"
    src.write_bytes(_zip(["RIRS_NOISES/../../pwned"]))
    corpora = tmp_path / "a" / "corpora"
    with pytest.raises(SeedkitError, match="unsafe archive member"):
        download.ensure_corpus("rirs_noises", corpora, url=src.as_uri())
    _nothing_outside(corpora)
    assert not (corpora / "RIRS_NOISES").exists()


def test_lhotse_librittsr_tar_is_checked(tmp_path):
    # lhotse turns every '-' of the URL into '_': serve from a path without dashes
    base = Path(tempfile.mkdtemp(prefix="seedkit_srv_"))
    try:
        (base / "141").mkdir(parents=True)
        (base / "141" / "train_clean_100.tar.gz").write_bytes(
            _tar([("LibriTTS_R/../../pwned", "file", "x")], gz=True))
        corpora = tmp_path / "a" / "corpora"
        with pytest.raises(SeedkitError, match="unsafe archive member"):
            download.ensure_corpus("librittsr", corpora, url=base.as_uri(),
                                   parts=("train-clean-100",))
    finally:
        shutil.rmtree(base)
    _nothing_outside(corpora)


def test_safe_archives_still_extract(tmp_path):
    t = tmp_path / "ok.tar.gz"
    t.write_bytes(_tar([("small", "dir", None), ("small/a.txt", "file", "hi"),
                        ("small/link", "sym", "a.txt"), ("small/hard", "hard", "small/a.txt")],
                       gz=True))
    archive.safe_untar(t, tmp_path / "out")
    assert (tmp_path / "out/small/link").read_text() == "hi"
    assert (tmp_path / "out/small/hard").read_text() == "hi"
    z = tmp_path / "ok.zip"
    z.write_bytes(_zip(["d/a.txt", "d/e/b.txt"]))
    archive.safe_unzip(z, tmp_path / "zout")
    assert (tmp_path / "zout/d/e/b.txt").read_text() == "x"


def test_truncated_and_non_archives(tmp_path):
    t = tmp_path / "t.tar.gz"
    t.write_bytes(_tar([("small/a.txt", "file", "hi" * 1000)], gz=True)[:40])
    with pytest.raises(SeedkitError, match="cannot extract"):
        archive.safe_untar(t, tmp_path / "out")
    z = tmp_path / "z.zip"
    z.write_bytes(b"not a zip at all")
    with pytest.raises(SeedkitError, match="cannot unzip"):
        archive.safe_unzip(z, tmp_path / "zout")


def test_cli_one_error_line_no_traceback(tmp_path):
    src = tmp_path / "small.tar"
    src.write_bytes(_tar(HOSTILE_TARS["symlink-up-then-write-through"]))
    corpora = tmp_path / "a" / "corpora"
    r = subprocess.run([sys.executable, "-m", "seedkit.bin.download_corpus", "--url",
                        src.as_uri(), "librilight", str(corpora)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errs) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "small.tar" in errs[0] and "'small/evil'" in errs[0]
    assert r.stdout == ""
    _nothing_outside(corpora)
    assert not download.marker_path(corpora, "librilight").exists()
