"""Safe extraction of the archives seedkit unpacks (tar, tar.gz, zip), whoever opens them.

Every member is checked before anything is written: no absolute path, no ``..`` component, no
symlink whose target is absolute or climbs with ``..`` (so no chain of links can leave the
folder), no hardlink to a path outside the archive's members, no device file or FIFO. A bad member
raises :class:`SeedkitError` naming the archive and the member; nothing is extracted then (so no
completion marker is written either). Tar members are then extracted with Python's ``data``
filter as a second line of defence.

lhotse's ``download_musan``/``download_librittsr`` (``lhotse.utils.safe_extract``, which checks
member names only) and ``download_rir_noise`` (``zipfile.ZipFile.extractall``, which silently
rewrites ``..`` and absolute names) are pointed at these functions by
:mod:`seedkit.prepare.download`.
"""

from __future__ import annotations

import tarfile
import types
import zipfile
from pathlib import Path
from typing import Optional

from seedkit.errors import PathLike, SeedkitError

_WHAT_TO_DO = ("nothing was extracted; the archive is corrupt or hostile: delete it and download "
               "it again from the official source")


def _bad(archive: PathLike, member: str, why: str) -> SeedkitError:
    return SeedkitError(f"unsafe archive member {member!r}: {why}; {_WHAT_TO_DO}", archive)


def _check_name(archive: PathLike, name: str) -> str:
    """The normalised relative path of a member name, or raise."""
    if not name or "\x00" in name:
        raise _bad(archive, name, "empty name or NUL byte in the name")
    unixy = name.replace("\\", "/")
    if unixy.startswith("/") or (len(unixy) > 1 and unixy[1] == ":"):
        raise _bad(archive, name, "absolute path")
    parts = [p for p in unixy.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _bad(archive, name, "'..' in the path would write outside the target folder")
    return "/".join(parts)


def check_tar_members(tar: tarfile.TarFile, archive: PathLike) -> list[tarfile.TarInfo]:
    """Raise unless every member of ``tar`` is safe to extract (see the module docstring)."""
    members = tar.getmembers()
    names = set()
    for m in members:
        rel = _check_name(archive, m.name)
        if m.issym():
            link = m.linkname.replace("\\", "/")
            if link.startswith("/"):
                raise _bad(archive, m.name, f"symlink to the absolute path {m.linkname!r}")
            if ".." in link.split("/"):
                raise _bad(archive, m.name, f"symlink to {m.linkname!r} points outside its "
                           "folder (a later member could write through it)")
        elif m.islnk():
            target = _check_name(archive, m.linkname)
            if target not in names:
                raise _bad(archive, m.name, f"hardlink to {m.linkname!r}, which is not an "
                           "earlier member of the archive")
        elif m.ischr() or m.isblk() or m.isfifo():
            raise _bad(archive, m.name, "device file or FIFO")
        elif not (m.isfile() or m.isdir()):
            raise _bad(archive, m.name, f"unsupported member type {m.type!r}")
        names.add(rel)
    return members


def check_zip_members(zf: zipfile.ZipFile, archive: PathLike) -> None:
    """Raise unless every member name of ``zf`` stays inside the target folder."""
    for info in zf.infolist():
        _check_name(archive, info.filename)


def _inside(target: Path, archive: PathLike) -> None:
    if target.is_symlink() and not target.exists():
        raise SeedkitError(f"target folder {target} is a dangling symlink", archive)


def safe_untar(archive: PathLike, target: PathLike, tar: Optional[tarfile.TarFile] = None
               ) -> None:
    """Extract a tar (any compression) into ``target`` after checking every member."""
    target = Path(target)
    _inside(target, archive)
    try:
        if tar is None:
            with tarfile.open(archive) as t:
                check_tar_members(t, archive)
                target.mkdir(parents=True, exist_ok=True)
                t.extractall(target, filter="data")
        else:
            check_tar_members(tar, archive)
            target.mkdir(parents=True, exist_ok=True)
            tar.extractall(target, filter="data")
    except tarfile.FilterError as err:  # the data filter found what the check did not
        raise _bad(archive, getattr(getattr(err, "tarinfo", None), "name", "?"),
                   str(err)) from None
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, OSError) and err.filename is not None:
            raise
        raise SeedkitError(f"cannot extract ({err}); delete the file and download again",
                           archive) from None


def safe_unzip(archive: PathLike, target: PathLike) -> None:
    """Extract a zip into ``target`` after checking every member name."""
    target = Path(target)
    _inside(target, archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            check_zip_members(zf, archive)
            target.mkdir(parents=True, exist_ok=True)
            zf.extractall(target)
    except (zipfile.BadZipFile, EOFError) as err:
        raise SeedkitError(f"cannot unzip ({err}); delete the file and download again",
                           archive) from None


# ----------------------------------------------------------------------------- lhotse stand-ins

def lhotse_safe_extract(tar, path=".", members=None, *, numeric_owner=False) -> None:
    """Stand-in for ``lhotse.utils.safe_extract`` inside lhotse's download functions."""
    if members is not None:
        raise SeedkitError("partial extraction is not supported", tar.name)
    safe_untar(tar.name or "<tar>", path, tar=tar)


class _SafeZipFile(zipfile.ZipFile):
    def extractall(self, path=None, members=None, pwd=None):  # noqa: D102
        check_zip_members(self, self.filename or "<zip>")
        try:
            return super().extractall(path, members, pwd)
        except (zipfile.BadZipFile, EOFError) as err:
            raise SeedkitError(f"cannot unzip ({err}); delete the file and download again",
                               self.filename) from None


#: Stand-in for the ``zipfile`` module inside lhotse's recipes: ``ZipFile`` checks members.
safe_zipfile_module = types.SimpleNamespace(
    **{k: getattr(zipfile, k) for k in dir(zipfile) if not k.startswith("__")})
safe_zipfile_module.ZipFile = _SafeZipFile


__all__ = ["check_tar_members", "check_zip_members", "lhotse_safe_extract", "safe_untar",
           "safe_unzip", "safe_zipfile_module"]
