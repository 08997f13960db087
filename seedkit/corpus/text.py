"""Utterance text for the synthetic speakers, drawn from the word list shipped in
``seedkit/resources/words_en.txt``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from seedkit.errors import SeedkitError

WORDS_FILE = Path(__file__).resolve().parent.parent / "resources" / "words_en.txt"


@lru_cache(maxsize=None)
def load_words(path: str = str(WORDS_FILE)) -> tuple[str, ...]:
    """The word list: one word per line, ``#`` lines are comments."""
    p = Path(path)
    if not p.is_file():
        raise SeedkitError("word list not found; reinstall seedkit (bash tools/install.sh)", p)
    words = []
    with open(p, encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            w = raw.strip()
            if not w or w.startswith("#"):
                continue
            if not w.isalpha():
                raise SeedkitError(f"word {w!r} has characters other than letters", p, n)
            words.append(w)
    if len(words) < 50:
        raise SeedkitError(f"word list has only {len(words)} words; need at least 50", p)
    return tuple(words)


def make_sentence(rng: np.random.Generator, num_words: int) -> str:
    """``num_words`` random words in phrases of 3-8 words, separated by commas and full stops, so
    espeak-ng varies its intonation as in read speech."""
    words = load_words()
    picked = [words[i] for i in rng.integers(0, len(words), size=max(1, num_words))]
    out: list[str] = []
    left = int(rng.integers(3, 9))
    for i, w in enumerate(picked):
        out.append(w)
        left -= 1
        if left == 0 and i + 1 < len(picked):
            out[-1] += "," if rng.random() < 0.5 else "."
            left = int(rng.integers(3, 9))
    text = " ".join(out)
    return text[0].upper() + text[1:] + "."
