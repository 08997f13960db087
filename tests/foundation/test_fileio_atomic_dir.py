"""fileio.atomic_dir: the build-in-a-hidden-sibling-then-rename of the mini corpus and the
held-out sets (permissions from the umask, nothing left behind on failure)."""

from __future__ import annotations

import os

import pytest

from seedkit.fileio import atomic_dir


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_replaces_the_old_dir_with_umask_permissions(tmp_path, umask_027):
    out = tmp_path / "sets"
    out.mkdir()
    (out / "old.txt").write_text("old\n")
    with atomic_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".sets.partial-")
        (tmp / "new.txt").write_text("new\n")
        assert (out / "old.txt").is_file()  # the old dir stays until the block ends
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sets"]
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert out.stat().st_mode & 0o777 == 0o750


def test_a_failed_build_leaves_the_old_dir_and_no_sibling(tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "old.txt").write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_dir(out) as tmp:
            (tmp / "half.txt").write_text("x\n")
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
