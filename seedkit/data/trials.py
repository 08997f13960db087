"""Trial lists: Kaldi ``<enroll> <test> target|nontarget`` and VoxCeleb ``<1|0> <a.wav> <b.wav>``.

Key mapping for the VoxCeleb form (stated, so keys match the data dirs lhotse/Kaldi write): the
``.wav`` suffix is dropped and ``/`` becomes ``-``, so ``id10270/x6uYqmx31kE/00001.wav`` becomes
``id10270-x6uYqmx31kE-00001``. ``key_mapping="path"`` keeps the path unchanged instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import iter_table, write_lines

LABELS = {"target": True, "nontarget": False}


@dataclass(frozen=True)
class Trial:
    """One verification trial: does ``test`` have the speaker of ``enroll``?"""

    enroll: str
    test: str
    target: bool


def voxceleb_path_to_key(path: str) -> str:
    """``id10270/x6uYqmx31kE/00001.wav`` -> ``id10270-x6uYqmx31kE-00001``."""
    if path.endswith(".wav"):
        path = path[: -len(".wav")]
    return path.replace("/", "-")


def read_trials(path: PathLike, key_mapping: str = "kaldi") -> list[Trial]:
    """Read a trial list in either form (detected per file from its first line).

    ``key_mapping`` applies to the VoxCeleb form only: ``"kaldi"`` (default) maps paths to Kaldi
    ids as described in the module docstring; ``"path"`` keeps them.
    """
    path = Path(path)
    if key_mapping not in ("kaldi", "path"):
        raise SeedkitError(f"unknown key mapping {key_mapping!r}; use 'kaldi' or 'path'")
    trials: list[Trial] = []
    form = None
    for n, f in iter_table(path, min_fields=3, max_fields=3, what="trials file", gzip_ok=True):
        this = "kaldi" if f[2] in LABELS else "voxceleb" if f[0] in ("0", "1") else None
        if this is None:
            raise SeedkitError("expected '<enroll> <test> target|nontarget' or "
                               "'<1|0> <enroll.wav> <test.wav>'", path, n)
        if form is None:
            form = this
        elif this != form:
            raise SeedkitError(f"line is in {this} form but the file started in {form} form",
                               path, n)
        if form == "kaldi":
            trials.append(Trial(f[0], f[1], LABELS[f[2]]))
        else:
            a, b = f[1], f[2]
            if key_mapping == "kaldi":
                a, b = voxceleb_path_to_key(a), voxceleb_path_to_key(b)
            trials.append(Trial(a, b, f[0] == "1"))
    if not trials:
        raise SeedkitError("trials file is empty", path)
    return trials


def write_trials(path: PathLike, trials: list[Trial], form: str = "kaldi") -> None:
    """Write trials atomically: ``form="kaldi"`` (``<enroll> <test> target|nontarget``) or
    ``"voxceleb"`` (``<1|0> <enroll> <test>``, keys written as they are)."""
    if form == "kaldi":
        lines = (f"{t.enroll} {t.test} {'target' if t.target else 'nontarget'}" for t in trials)
    elif form == "voxceleb":
        lines = (f"{int(t.target)} {t.enroll} {t.test}" for t in trials)
    else:
        raise SeedkitError(f"unknown trials form {form!r}; use 'kaldi' or 'voxceleb'")
    write_lines(path, lines)
