"""Shared test helpers: where the reference fixtures live, and small data builders."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def reference_dir() -> Path:
    """``../shared/reference`` beside the repository (present for sessions and CI)."""
    return REPO.parent / "shared" / "reference"


@lru_cache(maxsize=None)
def load_reference(name: str) -> dict:
    """Parse a reference JSON fixture once per test session."""
    with open(reference_dir() / name, encoding="utf-8") as f:
        return json.load(f)


def make_weights_module():
    """Import ``make_weights.py`` from the reference folder."""
    ref = str(reference_dir())
    if ref not in sys.path:
        sys.path.insert(0, ref)
    import make_weights  # noqa: PLC0415

    return make_weights


@pytest.fixture
def venv_bin() -> Path:
    """The directory holding the console scripts."""
    return Path(sys.executable).parent
