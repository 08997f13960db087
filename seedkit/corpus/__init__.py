"""Synthetic mini corpus: espeak-ng speakers, a synthesised environment library in MUSAN and
RIRS_NOISES layouts, and evaluation sets with trials (``seedkit-make-mini-corpus``)."""

from seedkit.corpus.config import CorpusConfig
from seedkit.corpus.make import make_mini_corpus

__all__ = ["CorpusConfig", "make_mini_corpus"]
