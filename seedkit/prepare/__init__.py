"""Corpus preparation: downloads (:mod:`.download`), lhotse manifests -> Kaldi data dirs and trial
lists for each corpus (:mod:`.corpora`), the mini corpus (:mod:`.mini`), the Kaldi export
(:mod:`.kaldi`). See ``docs/prepare.md``."""
