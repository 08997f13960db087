"""DET curves (miss vs false-alarm probability on normal-deviate axes) with EER points; PNG + PDF,
and the curve points as text.

Each curve is the ROC of :func:`seedkit.scoring.metrics.roc_points` (sklearn's points; dropping
collinear points keeps the same curve), mapped through the probit ``scipy.special.ndtri`` (what
``scipy.stats.norm.ppf`` computes, without importing scipy.stats); probabilities of 0 or 1 are
clipped to 1e-6 from the edge. The EER of each curve (the metrics rule) is marked on the diagonal
at (EER, EER) and given in the legend.

Beside ``<name>.png`` and ``<name>.pdf``, ``<name>.det.tsv`` holds every point of every curve:
a header line ``system<TAB>threshold<TAB>p_miss<TAB>p_fa``, then one line per point, systems in
legend order, points by decreasing threshold. A trial is accepted when its score is >= the
threshold, so ``p_miss`` = (targets scoring below it) / targets and ``p_fa`` = (non-targets
scoring at or above it) / non-targets; the first point of each system has threshold ``inf``
(accept nothing: p_miss 1, p_fa 0), the last the lowest score (accept everything: p_miss 0,
p_fa 1). Numbers are written with ``repr`` (they read back exactly). The picture draws at most
``MAX_POINTS`` of them per curve (evenly spaced by index, ends kept); the file has them all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import ndtri  # norm.ppf's kernel, without scipy.stats' 1.2 s import

from seedkit.errors import PathLike, SeedkitError
from seedkit.fileio import atomic_output, atomic_text_writer
from seedkit.scoring.metrics import eer_point, roc_points

log = logging.getLogger(__name__)

__all__ = ["det_points_path", "plot_det", "write_det_points"]

TICKS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
MAX_POINTS = 4000


def _ppf(p: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(p, 1e-6, 1 - 1e-6))


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= MAX_POINTS:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, MAX_POINTS).astype(np.int64))
    return x[idx], y[idx]


def det_points_path(out_png: PathLike) -> Path:
    """``<name>.det.tsv`` beside ``<name>.png``."""
    out_png = Path(out_png)
    return out_png.with_name(out_png.stem + ".det.tsv")


def _check_names(curves: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> None:
    for label, _, _ in curves:
        if any(c in label for c in "\t\n\r"):
            raise SeedkitError(f"system name {label!r} contains a tab or line break; it cannot "
                               "be written to the DET points file")


def write_det_points(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: PathLike) -> Path:
    """Write the points of every ``(label, scores, labels)`` curve (format: module docstring)."""
    _check_names(curves)
    with atomic_text_writer(path) as f:
        f.write("system\tthreshold\tp_miss\tp_fa\n")
        for label, scores, labels in curves:
            fpr, tpr, thr = roc_points(scores, labels)
            fnr = 1 - tpr
            for t, m, a in zip(thr.tolist(), fnr.tolist(), fpr.tolist()):
                f.write(f"{label}\t{t!r}\t{m!r}\t{a!r}\n")
    return Path(path)


def plot_det(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], out_png: PathLike,
             title: str | None = None) -> tuple[Path, Path, Path]:
    """Draw ``(label, scores, labels)`` curves; write ``out_png``, the same name with ``.pdf``
    and the curve points as ``<name>.det.tsv`` (:func:`det_points_path`).

    All files are written atomically. Returns their paths (png, pdf, tsv).
    """
    # imported here: the Agg backend must be chosen before pyplot is imported
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise SeedkitError(f"output must end in .png (the PDF is written beside it), got "
                           f"{out_png.name!r}")
    if not curves:
        raise SeedkitError("no score files to plot")
    _check_names(curves)
    out_pdf = out_png.with_suffix(".pdf")
    fig, ax = plt.subplots(figsize=(6, 6))
    try:
        for i, (label, scores, labels) in enumerate(curves):
            fpr, tpr, _ = roc_points(scores, labels)
            fnr = 1 - tpr
            x, y = _thin(_ppf(fpr), _ppf(fnr))
            eer = eer_point(scores, labels)[0]
            (line,) = ax.plot(x, y, lw=1.5, label=f"{label} (EER {eer:.2f}%)", zorder=2 + i)
            # the EER is marked where it is read: on the diagonal, at (EER, EER)
            e = _ppf(np.array([eer / 100.0]))
            ax.plot(e, e, "o", ms=6, color=line.get_color(), mec="black", zorder=10)
        lim = _ppf(np.array([TICKS[0] / 2, 0.5]))
        ticks = _ppf(np.array(TICKS))
        names = [f"{100 * t:g}" for t in TICKS]
        ax.plot(lim, lim, ":", color="0.6", lw=1, label="EER line")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xticks(ticks, names)
        ax.set_yticks(ticks, names)
        ax.set_xlabel("False alarm probability (%)")
        ax.set_ylabel("Miss probability (%)")
        ax.grid(True, color="0.85")
        ax.set_title(title or "DET curves")
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        for path, fmt in ((out_png, "png"), (out_pdf, "pdf")):
            with atomic_output(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=150)
    finally:
        plt.close(fig)
    out_tsv = write_det_points(curves, det_points_path(out_png))
    log.info("wrote %s, %s and %s (%d curves)", out_png, out_pdf, out_tsv, len(curves))
    return out_png, out_pdf, out_tsv
