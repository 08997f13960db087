"""Shared test helpers: where the reference fixtures live, and small data builders."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def reference_dir() -> Path:
    """``tests/data/reference``: outputs of the original SEED code and resemblyzer (its README)."""
    return Path(__file__).resolve().parent / "data" / "reference"


@lru_cache(maxsize=None)
def load_reference(name: str) -> dict:
    """Parse a reference JSON fixture once per test session."""
    with open(reference_dir() / name, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def venv_bin() -> Path:
    """The directory holding the console scripts."""
    return Path(sys.executable).parent
