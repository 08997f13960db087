"""Corpus preparation: downloads (:mod:`.download`); lhotse manifests -> Kaldi data dirs and trial
lists, one module per corpus (gathered in :mod:`.corpora`, shared helpers in :mod:`.common`); the
mini corpus (:mod:`.mini`); the Kaldi export (:mod:`.kaldi`). See ``docs/prepare.md``."""
