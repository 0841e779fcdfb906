"""One self-contained HTML file: tables, plots as inline PNG, an error gallery."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import cv2
import numpy as np

from .._exceptions import InvalidImageError
from ..io import read_image

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0}.plots img{width:520px;border:1px solid #eee}
.gallery{display:flex;flex-wrap:wrap;gap:10px}.card{width:170px;font-size:.8em}.card img{width:170px;height:128px;object-fit:cover;border:1px solid #ccc}
.card.wide{width:350px}.card img.heat{width:170px;height:auto;object-fit:contain;border:none;margin-left:4px}
.note{color:#555;font-size:.9em}
table.subtypes th.sub{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;max-height:12em;font-weight:normal}
table.subtypes td.diag{outline:2px solid #222;outline-offset:-2px}table.subtypes tr>th:first-child{text-align:left;font-weight:normal}
"""


def _png(display_or_fig):
    import matplotlib.pyplot as plt

    fig = getattr(display_or_fig, "figure_", display_or_fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _thumbnail(source, side=170):
    try:
        image = read_image(source, min_side=side)
    except InvalidImageError:
        return None
    h, w = image.shape[:2]
    scale = side / max(h, w)
    image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(buf.tobytes()).decode() if ok else None


def _table(rows, columns, formats=None):
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            if isinstance(v, float):
                v = "n/a" if np.isnan(v) else formats.get(c, "{:.3f}").format(v)
            cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_html(report, path, *, title, n_gallery, n_heatmaps=4):
    import matplotlib

    matplotlib.use("Agg", force=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    n_groups = len(np.unique(report.groups)) if report.groups is not None else len(report.y)
    counts = {str(c): int((report.y == c).sum()) for c in report.classes}
    parts.append(
        "<p class='note'>"
        f"{len(report.y)} images ({', '.join(f'{k}: {v}' for k, v in counts.items())}) in {n_groups} groups; "
        f"{len(report.folds)} test folds ({html.escape(repr(report.cv))}); positive class "
        f"<b>{html.escape(str(report.pos_label))}</b>; cross-validation took {report.elapsed:.1f} s. "
        "Every model, threshold and hyper-parameter was fitted on the training folds only; "
        "near-duplicate groups never straddle a split.</p>"
    )
    parts.append(f"<p class='note'>Estimator: <code>{html.escape(repr(report.estimator))}</code></p>")

    summary = report.summary()
    metrics = list(report.headline_metrics) + [m for m in summary if m.startswith(("precision_", "recall_"))]
    pooled = report.oof_metrics()
    intervals = report.intervals()
    rows = []
    for m in metrics:
        if m not in summary:
            continue
        row = {"metric": m, "mean over folds": summary[m][0], "std over folds": summary[m][1],
               "pooled out-of-fold": pooled.get(m, np.nan), "95% interval (pooled)": ""}
        if m in intervals and not np.isnan(intervals[m]["low"]):
            row["95% interval (pooled)"] = f"{intervals[m]['low']:.3f} - {intervals[m]['high']:.3f}"
        rows.append(row)
    columns = ["metric", "mean over folds", "std over folds", "pooled out-of-fold", "95% interval (pooled)"]
    threshold = report.threshold_text()
    parts.append(
        f"<h2>Metrics</h2>{_table(rows, columns)}"
        + (f"<p>Decision threshold: <b>{html.escape(threshold)}</b></p>" if threshold else "")
        + f"<p class='note'><b>Mean over folds</b>: the metric of each of the {len(report.folds)} test folds, "
        "averaged (± their standard deviation). <b>Pooled out-of-fold</b>: the metric of all out-of-fold "
        "predictions at once (probabilities averaged over repeats, the majority prediction), as in the ROC and "
        "precision-recall plots. They differ because a fold's AUC only ranks the photographs of that fold. "
        "<b>95% interval</b>: 2.5th-97.5th percentile of the pooled metric over 1000 bootstrap resamples of "
        "whole groups (near-duplicates stay together).</p>"
    )

    cm = report.confusion_matrix()
    cm_rows = [{"true \\ predicted": str(c), **{str(p): int(v) for p, v in zip(report.classes, r)}} for c, r in zip(report.classes, cm)]
    parts.append("<h2>Confusion matrix (out-of-fold)</h2>" + _table(cm_rows, ["true \\ predicted", *map(str, report.classes)]))

    subtypes = report.subtype_confusion_matrix()
    if subtypes is not None:
        from ._subtypes import subtype_confusion_html

        parts.append(
            "<h2>Subtype confusion matrix (out-of-fold)</h2>" + subtype_confusion_html(*subtypes)
            + "<p class='note'>Rows: the subtypes of the data, most frequent first; columns: the most likely subtype "
            "of the model of each photograph's test fold (majority over repeats). Subtypes too rare to be learned "
            "are merged into <i>other &lt;class&gt;</i> inside each training fold; shading is the share of the row.</p>"
        )

    plots = [("confusion matrix", report.plot_confusion_matrix())]
    if report.positive_proba is not None:
        plots += [
            ("ROC curve (pooled out-of-fold)", report.plot_roc_curve()),
            ("precision-recall curve (pooled out-of-fold) with average precision", report.plot_precision_recall_curve()),
            ("threshold curve", report.plot_threshold_curve()),
            ("calibration", report.plot_calibration()),
        ]
    for name in report.subgroups:
        plots.append((f"metrics by {name.replace('_', ' ')}", report.plot_subgroups(name)))
    figures = "".join(
        f"<figure><img alt='{html.escape(n)}' src='data:image/png;base64,{_png(d)}'><figcaption>{html.escape(n)}</figcaption></figure>"
        for n, d in plots
    )
    parts.append(f"<h2>Plots</h2><div class='plots'>{figures}</div>")

    for name in report.subgroups:
        table = report.subgroup_table(name)
        cols = ["group", "n"] + (["n_positive"] if report.is_binary else [])
        cols += [m for m in report.headline_metrics if m not in ("brier", "calibration_error")]
        if any(np.isnan(r.get("macro_f1", np.nan)) for r in table):
            cols.append("accuracy")
        cols = [c for c in cols if any(not (isinstance(r.get(c), float) and np.isnan(r.get(c))) for r in table)]
        parts.append(
            f"<h2>By {html.escape(name.replace('_', ' '))}</h2>"
            + _table(table, cols, {"n": "{}", "n_positive": "{}"})
            + "<p class='note'>Out-of-fold predictions pooled over repeats. Small groups give noisy numbers; read n. "
            "Where a group holds one class only, only that class's figures are defined (accuracy: the share "
            "classified correctly).</p>"
        )

    from ._gallery import distinct_errors, heatmaps

    kinds = ["false positive", "false negative"] if report.is_binary else ["error"]
    shown = {kind: distinct_errors(report, kind, n_gallery) for kind in kinds}
    confident = sorted((r for rows, _ in shown.values() for r in rows),
                       key=lambda r: -r["confidence"] if not np.isnan(r["confidence"]) else 0)
    maps = heatmaps(report, confident, n_heatmaps) if n_heatmaps else {}
    for kind in kinds:
        rows, total = shown[kind]
        cards = []
        for r in rows:
            thumb = _thumbnail(report.sources[r["index"]] if not hasattr(report.sources, "iloc") else report.sources.iloc[r["index"]])
            img = f"<img src='data:image/jpeg;base64,{thumb}'>" if thumb else "<div>(unreadable)</div>"
            heat = f"<img class='heat' src='data:image/png;base64,{maps[r['index']]}'>" if r["index"] in maps else ""
            copies = f"<div>+{r['copies']} cop{'y' if r['copies'] == 1 else 'ies'} of this photo</div>" if r["copies"] else ""
            cards.append(
                f"<div class='card{' wide' if heat else ''}'>{img}{heat}<div>{html.escape(Path(str(r['source'])).name)}</div>"
                f"<div>true <b>{html.escape(str(r['true']))}</b>, predicted {html.escape(str(r['predicted']))}"
                f" with p={r['confidence']:.2f}</div>{copies}</div>"
            )
        parts.append(
            f"<h2>Most confident {kind}s ({len(rows)} shown of {total}; copies of a photograph shown once)</h2>"
            f"<div class='gallery'>{''.join(cards) or 'none'}</div>"
        )
    if maps:
        parts.append(
            "<p class='note'>Heat maps (occlusion sensitivity, dermfeat.explain): how much the probability of the "
            "wrongly predicted class drops when a patch covering each region is hidden, for the model of the fold "
            "that photograph was tested in (refitted on that fold's training photographs). Hot regions drove the "
            "mistake.</p>"
        )
    parts.append("</body></html>")
    path.write_text("".join(parts), encoding="utf-8")
    return path
