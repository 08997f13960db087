"""Score a trial list with one of the back ends (the library side of ``seedkit-score``).

Methods: ``cosine`` (vectors), ``seed`` (multi-crop: -mean crop-pair Euclidean distance of unit
rows), ``seed-cosine`` (mean crop-pair cosine), ``znorm`` / ``tnorm`` / ``snorm`` / ``asnorm``
(cosine normalised against a cohort, :mod:`seedkit.scoring.snorm`) and ``plda`` (LLR of a
:mod:`seedkit.scoring.plda` back end). Embeddings are read and indexed once; trial keys are
mapped to rows once; scoring runs in chunks, so memory is bounded by the embeddings plus a
chunk.
"""

from __future__ import annotations

import logging
import time
from typing import Optional

import numpy as np

from seedkit.data.trials import TrialList, read_trial_list
from seedkit.embio import iter_embeddings, read_vector_scp
from seedkit.errors import OptionError, Param, SeedkitError
from seedkit.scoring.cosine import cosine_pairs, normalized_vectors
from seedkit.scoring.index import (
    DEFAULT_CHUNK,
    EmbeddingSet,
    check_same_dim,
    pair_dot,
    resolve_trials,
)
from seedkit.scoring.keyrows import KaldiLines
from seedkit.scoring.multicrop import mean_cosine_pairs, seed_pairs
from seedkit.scoring.scorefile import write_scores
from seedkit.scoring.snorm import MODES as NORM_MODES
from seedkit.scoring.snorm import normalize_scores
from seedkit.scoring.textcols import key_column

log = logging.getLogger(__name__)

METHODS = ("cosine", "seed", "seed-cosine", "asnorm", "znorm", "tnorm", "snorm", "plda")

__all__ = ["METHODS", "load_embedding_set", "score_rows", "score_sets", "score_trials_file"]


def load_embedding_set(rspecifier: str) -> EmbeddingSet:
    """Read an rspecifier into an :class:`EmbeddingSet` (vectors or multi-crop matrices); an
    scp of plain float32 vectors is read in bulk (:func:`seedkit.embio.read_vector_scp`)."""
    bulk = read_vector_scp(rspecifier)
    if bulk is not None:
        return EmbeddingSet(bulk[0], vectors=bulk[1], name=rspecifier)
    return EmbeddingSet.from_dict(dict(iter_embeddings(rspecifier)), rspecifier)


def _check_options(method: str, mean, cohort, top_n, plda) -> None:
    """Refuse options that do not go together (named as :func:`score_trials_file`'s
    parameters)."""
    if method not in METHODS:
        raise OptionError("unknown ", Param("method"), f" {method!r}; use one of "
                          f"{', '.join(METHODS)}")
    if method in NORM_MODES and cohort is None:
        raise OptionError(Param("method", method), " needs ", Param("cohort"), " <rspecifier> "
                          "(e.g. per-speaker mean embeddings of a training set)")
    if method not in NORM_MODES and cohort is not None:
        raise OptionError(Param("cohort"), f" is only used by {', '.join(NORM_MODES)}")
    if top_n is not None and method not in NORM_MODES:
        raise OptionError(Param("top_n"), f" is only used by {', '.join(NORM_MODES)}")
    if method == "plda" and plda is None:
        raise OptionError(Param("method", "plda"), " needs ", Param("plda_path"), " <model> "
                          "(train it with seedkit-train-plda)")
    if method != "plda" and plda is not None:
        raise OptionError(Param("plda_path"), " is only used by ", Param("method", "plda"))
    if method == "plda" and mean is not None:
        raise OptionError(Param("mean_from"), " is not used with ", Param("method", "plda"),
                          ": the PLDA model subtracts its own training mean")


def _check_inputs(method: str, mean, cohort, top_n, plda, enroll: EmbeddingSet,
                  test: EmbeddingSet) -> None:
    _check_options(method, mean, cohort, top_n, plda)
    if mean is not None and mean.shape[0] != enroll.dim:
        raise OptionError("the ", Param("mean_from"), f" embeddings have dimension "
                          f"{mean.shape[0]} but the trial embeddings have {enroll.dim}")
    check_same_dim(enroll, test)


def score_rows(enroll: EmbeddingSet, test: EmbeddingSet, ei: np.ndarray, ti: np.ndarray,
               method: str = "cosine", mean: Optional[np.ndarray] = None,
               cohort: Optional[EmbeddingSet] = None, top_n: Optional[int] = None,
               plda=None, chunk: int = DEFAULT_CHUNK, where=None) -> np.ndarray:
    """Scores of resolved row pairs ``(ei, ti)``; a non-finite score raises, naming its trial
    (``where``: the trials file)."""
    _check_inputs(method, mean, cohort, top_n, plda, enroll, test)
    if method == "cosine":
        scores = cosine_pairs(enroll, test, ei, ti, mean, chunk)
    elif method == "seed":
        scores = seed_pairs(enroll, test, ei, ti, mean, chunk)
    elif method == "seed-cosine":
        scores = mean_cosine_pairs(enroll, test, ei, ti, mean, chunk)
    elif method in NORM_MODES:
        a = normalized_vectors(enroll, mean, method)
        b = a if test is enroll else normalized_vectors(test, mean, method)
        c = normalized_vectors(cohort, mean, method)
        raw = pair_dot(a, ei, b, ti, chunk)
        scores = normalize_scores(raw, ei, ti, a, b, c, method, top_n)
    else:
        a = enroll.require_vectors(method)
        b = a if test is enroll else test.require_vectors(method)
        scores = plda.score_pairs(a, ei, b, ti, chunk, (enroll.name, test.name))
    if not np.all(np.isfinite(scores)):
        bad = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise SeedkitError(f"score of trial '{enroll.keys[ei[bad]]} {test.keys[ti[bad]]}' is "
                           "not finite; check its embeddings (all-zero vectors?)", where)
    return scores


def score_sets(trials: TrialList, enroll: EmbeddingSet, test: EmbeddingSet,
               method: str = "cosine", mean: Optional[np.ndarray] = None,
               cohort: Optional[EmbeddingSet] = None, top_n: Optional[int] = None,
               plda=None, skip_missing: bool = False, chunk: int = DEFAULT_CHUNK
               ) -> tuple[TrialList, np.ndarray]:
    """Score ``trials``; returns ``(scored trials, scores)`` (fewer trials only with
    ``skip_missing``). ``plda`` is a :class:`~seedkit.scoring.plda.PLDABackend`."""
    _check_inputs(method, mean, cohort, top_n, plda, enroll, test)
    ei, ti, keep = resolve_trials(trials.enroll, trials.test, enroll, test, skip_missing,
                                  trials.path)
    scored = trials if keep.all() else trials.subset(keep)
    return scored, score_rows(enroll, test, ei, ti, method, mean, cohort, top_n, plda, chunk,
                              trials.path)


def _kaldi_lines(path: str) -> Optional[KaldiLines]:
    try:
        with open(path, "rb") as f:
            return KaldiLines.parse(f.read())
    except OSError:
        return None


def score_trials_file(trials_path: str, enroll_rspec: str, test_rspec: str, out_path: str,
                      method: str = "cosine", mean_from: Optional[str] = None,
                      cohort: Optional[str] = None, top_n: Optional[int] = None,
                      plda_path: Optional[str] = None, skip_missing: bool = False,
                      chunk: int = DEFAULT_CHUNK) -> dict:
    """Read everything, score, write ``out_path`` atomically; returns a small summary dict.

    A single-space Kaldi trial list whose keys all have embeddings takes the fast path: keys
    mapped to rows by numpy (:mod:`seedkit.scoring.keyrows`), lines written from the
    embeddings' key table by numpy (:mod:`seedkit.scoring.textcols`). Anything else (VoxCeleb
    form, absent keys, other spacing) goes through the checking reader; the output bytes are
    the same.
    """
    _check_options(method, mean_from, cohort, top_n, plda_path)
    t0 = time.perf_counter()
    lines = _kaldi_lines(trials_path)
    trials = read_trial_list(trials_path) if lines is None else None  # its errors come first
    enroll = load_embedding_set(enroll_rspec)
    test = enroll if test_rspec == enroll_rspec else load_embedding_set(test_rspec)
    mean = load_embedding_set(mean_from).mean_vector() if mean_from else None
    coh = load_embedding_set(cohort) if cohort else None
    plda = None
    if plda_path:
        # imported here: scipy (PLDA) adds ~1 s to every other method's seedkit-score start
        from seedkit.scoring.plda import load_plda

        plda = load_plda(plda_path)
    t1 = time.perf_counter()
    rows = ek = tk = None
    if lines is not None:
        ek = key_column(enroll.keys)
        tk = ek if test is enroll else key_column(test.keys)
        if ek is not None and tk is not None:
            rows = lines.rows(enroll.keys, None if test is enroll else test.keys)
    if rows is not None:
        n_trials = n_scored = len(lines)
        ei, ti = rows
        scores = score_rows(enroll, test, ei, ti, method, mean, coh, top_n, plda, chunk,
                            trials_path)
        t2 = time.perf_counter()
        write_scores(out_path, ek[ei], tk[ti], scores)
    else:
        if trials is None:
            trials = read_trial_list(trials_path)
        scored, scores = score_sets(trials, enroll, test, method, mean, coh, top_n, plda,
                                    skip_missing, chunk)
        n_trials, n_scored = len(trials), len(scored)
        t2 = time.perf_counter()
        write_scores(out_path, scored.enroll, scored.test, scores)
    t3 = time.perf_counter()
    log.info("%s: %d trials scored with %s (read %.2fs, score %.2fs, write %.2fs)", out_path,
             n_scored, method, t1 - t0, t2 - t1, t3 - t2)
    return {"trials": n_trials, "scored": n_scored, "method": method}
