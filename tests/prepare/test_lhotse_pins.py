"""seedkit/prepare patches a few lhotse recipe-module attributes for the length of one call
(``seedkit.prepare.common.patched``): lhotse has no public option for what they change. Those
patches were written against lhotse 1.33, so setup.py and requirements.txt pin that range; these
tests fail naming the patched attribute when the installed lhotse no longer has it, or no longer
uses it where the patch expects, and when a new patch appears without a row here."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from conftest import REPO
from packaging.specifiers import SpecifierSet
from packaging.version import Version

# (module, attribute, the function whose source must use it, the text that use looks like)
PATCHES = [
    ("lhotse.recipes.voxceleb", "_prepare_voxceleb_trials", "prepare_voxceleb",
     '_prepare_voxceleb_trials(manifests["test"])'),
    ("lhotse.recipes.voxceleb", "ProcessPoolExecutor", "_prepare_voxceleb_v1",
     "ProcessPoolExecutor(num_jobs)"),
    ("lhotse.recipes.librilight", "LIBRILIGHT", "prepare_librilight", "subsets = LIBRILIGHT"),
    ("lhotse.recipes.musan", "resumable_download", "download_musan", "resumable_download("),
    ("lhotse.recipes.musan", "safe_extract", "download_musan", "safe_extract("),
    ("lhotse.recipes.rir_noise", "resumable_download", "download_rir_noise",
     "resumable_download("),
    ("lhotse.recipes.rir_noise", "zipfile", "download_rir_noise", "zipfile.ZipFile("),
    ("lhotse.recipes.libritts", "resumable_download", "download_libritts",
     "resumable_download("),
    ("lhotse.recipes.libritts", "safe_extract", "download_libritts", "safe_extract("),
]


def _pins() -> dict[str, str]:
    """The lhotse requirement as each install file states it."""
    out = {}
    for name in ("setup.py", "requirements.txt"):
        m = re.search(r"""^\s*"?lhotse\s*([<>=!~][^"#\n]*)""", (REPO / name).read_text(),
                      re.MULTILINE)
        assert m, f"{name} names no lhotse version range"
        out[name] = m.group(1).strip()
    return out


def test_installed_lhotse_is_in_the_pinned_range():
    import lhotse

    pins = _pins()
    assert len(set(pins.values())) == 1, f"the install files pin lhotse differently: {pins}"
    spec = SpecifierSet(pins["setup.py"])
    assert any(s.operator in ("<", "<=", "==", "~=") for s in spec), (
        f"lhotse{spec}: the patches in seedkit/prepare need an upper bound")
    assert Version(lhotse.__version__) in spec, (
        f"installed lhotse {lhotse.__version__} is outside the pinned range lhotse{spec}")


@pytest.mark.parametrize("module,attr,func,use", PATCHES,
                         ids=[f"{m.rsplit('.', 1)[1]}.{a}" for m, a, _, _ in PATCHES])
def test_patched_attribute_still_used(module, attr, func, use):
    mod = importlib.import_module(module)
    where = f"{module}.{attr}"
    assert hasattr(mod, attr), (
        f"lhotse changed under seedkit's patch of {where}: the attribute is gone; see "
        "seedkit/prepare (the corpus modules, download.py)")
    src = inspect.getsource(getattr(mod, func))
    assert use in src, (
        f"lhotse changed under seedkit's patch of {where}: {module}.{func} no longer has "
        f"{use!r}, so patching {attr} may no longer do what seedkit/prepare expects")


def test_voxceleb_trials_patch_keeps_the_signature():
    import lhotse.recipes.voxceleb as vox

    params = list(inspect.signature(vox._prepare_voxceleb_trials).parameters)
    assert params == ["manifests"], (
        "lhotse changed under seedkit's patch of lhotse.recipes.voxceleb._prepare_voxceleb_trials"
        f": it now takes {params}")


def test_every_patch_has_a_row():
    """Each ``patched(<lhotse module>, "<attr>", ...)`` in seedkit/prepare is listed above."""
    found = set()
    for path in sorted((REPO / "seedkit" / "prepare").glob("*.py")):
        text = path.read_text()
        aliases = dict((a, m) for m, a in re.findall(r"import (lhotse[\w.]*) as (\w+)", text))
        for alias, attr in re.findall(r'patched\((\w+), "(\w+)"', text):
            assert alias in aliases, f"{path.name}: patched({alias}, {attr!r}) on a non-lhotse name"
            found.add((aliases[alias], attr))
    assert found == {(m, a) for m, a, _, _ in PATCHES}
