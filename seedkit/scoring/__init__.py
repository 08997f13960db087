"""Scoring back end: cosine / SEED multi-crop / score normalisation / PLDA scorers and metrics."""
