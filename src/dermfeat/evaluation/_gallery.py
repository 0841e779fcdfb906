"""The report's error gallery: each photograph once, heat maps on the most confident mistakes."""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np

from .._exceptions import UnstableThresholdWarning


def _source(report, index):
    return report.sources.iloc[index] if hasattr(report.sources, "iloc") else report.sources[index]


def _is_image(source):
    return isinstance(source, (str, bytes)) or hasattr(source, "__fspath__") or (
        isinstance(source, np.ndarray) and source.ndim == 3)


def distinct_errors(report, kind, n):
    """The ``n`` most confident errors of one kind, each photograph once, and the number of such errors.

    Copies of a photograph (exact or near duplicates among the most confident
    errors, found by :func:`~dermfeat.model_selection.near_duplicate_groups`)
    are shown once: the first, most confident one, with ``copies`` (how many
    others).
    """
    rows = [dict(r, copies=0) for r in report.misclassified() if r["kind"] == kind]
    if not rows:
        return rows, 0
    candidates = rows[: max(4 * n, n + 8)]
    sources = [_source(report, r["index"]) for r in candidates]
    if all(_is_image(s) for s in sources) and len(sources) > 1:
        from ..model_selection import near_duplicate_groups

        groups = near_duplicate_groups(sources, on_error="singleton")
    else:
        groups = np.arange(len(candidates))
    first, shown = {}, []
    for row, group in zip(candidates, groups):
        if group in first:
            first[group]["copies"] += 1
            continue
        first[group] = row
        shown.append(row)
    return shown[:n], len(rows)


def _png(fig):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def heatmap_png(result, title):
    """The photograph with its occlusion heat map and a colour bar, as base64 PNG."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    peak = float(max(np.max(result.heatmap), 1e-6))
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    ax.imshow(result.overlay())
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    bar = fig.colorbar(ScalarMappable(norm=Normalize(0, peak), cmap="jet"), ax=ax, fraction=0.046, pad=0.03)
    bar.set_label(f"drop in p({result.target}) when covered", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    return _png(fig)


def heatmaps(report, rows, n_heatmaps, patch_size=0.2):
    """Occlusion heat maps (base64 PNG) of the first ``n_heatmaps`` rows, by index.

    Each map explains the model of the fold the photograph was tested in
    (:meth:`EvaluationReport.fold_estimator`), for the class it wrongly predicted.
    """
    from ..explain import occlusion_sensitivity

    out, models = {}, {}
    for row in rows[:n_heatmaps]:
        index = row["index"]
        source = _source(report, index)
        if not _is_image(source):
            continue
        fold = next((i for i, f in enumerate(report.fold_predictions) if index in set(f["test"].tolist())), None)
        if fold is None:
            continue
        if fold not in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnstableThresholdWarning)
                models[fold] = report.fold_estimator(fold)
        try:
            result = occlusion_sensitivity(models[fold], source, target=row["predicted"], patch_size=patch_size)
        except Exception as exc:  # an unreadable photo: the card says so, the report is still written
            from .._exceptions import InvalidImageError

            if not isinstance(exc, InvalidImageError):
                raise
            continue
        out[index] = heatmap_png(result, f"why {row['predicted']}? (fold {fold + 1}, p={result.base_probability:.2f})")
    return out
