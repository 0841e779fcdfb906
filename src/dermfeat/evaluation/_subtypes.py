"""The subtype confusion matrix of a cross-validated model fitted on subtypes (fine labels)."""

from __future__ import annotations

import html

import numpy as np

from ._cross_val_predict import majority_over_repeats


def oof_subtypes(results, splits, n, n_repeats, per_repeat):
    """Out-of-fold predicted subtypes (majority over repeats), or None when a fold has no subtypes."""
    if not results or any(r.get("subtype_proba") is None for r in results):
        return None
    preds = np.full((n_repeats, n), None, dtype=object)
    for i, ((_, test), res) in enumerate(zip(splits, results)):
        classes = np.asarray(res["subtype_classes"], dtype=object)
        preds[min(i // per_repeat, n_repeats - 1), test] = classes[np.argmax(res["subtype_proba"], axis=1)]
    return majority_over_repeats(preds)


def subtype_confusion(true, pred):
    """Counts of true subtype x predicted subtype.

    Rows are the subtypes of the data (most frequent first), columns the
    subtypes the models predicted (those that are also true subtypes first,
    in row order, then merged classes such as ``"other eczema"``).

    Parameters
    ----------
    true, pred : array-like of shape (n_samples,)

    Returns
    -------
    rows : list of str
    columns : list of str
    counts : ndarray of shape (len(rows), len(columns))

    Examples
    --------
    >>> from dermfeat.evaluation._subtypes import subtype_confusion
    >>> subtype_confusion(["hand", "hand", "nipple"], ["hand", "other eczema", "other eczema"])
    (['hand', 'nipple'], ['hand', 'other eczema'], array([[1, 1],
           [0, 1]]))
    """
    true = np.asarray(true, dtype=object).astype(str)
    pred = np.asarray(pred, dtype=object).astype(str)
    labels, counts = np.unique(true, return_counts=True)
    rows = [str(labels[i]) for i in np.lexsort((labels, -counts))]
    predicted = set(pred.tolist())
    columns = [r for r in rows if r in predicted] + sorted(predicted - set(rows))
    r_index = {r: i for i, r in enumerate(rows)}
    c_index = {c: j for j, c in enumerate(columns)}
    out = np.zeros((len(rows), len(columns)), dtype=int)
    for t, p in zip(true.tolist(), pred.tolist()):
        out[r_index[t], c_index[p]] += 1
    return rows, columns, out


def subtype_confusion_html(rows, columns, counts):
    """The matrix as an HTML table: counts, shaded by their share of the row, with row totals."""
    head = "".join(f"<th class='sub'>{html.escape(c)}</th>" for c in columns)
    body = []
    for name, row in zip(rows, counts):
        total = int(row.sum())
        cells = []
        for c, v in zip(columns, row):
            share = v / total if total else 0.0
            style = f" style='background: rgba(33, 102, 172, {0.85 * share:.2f}){'; color: white' if share > 0.5 else ''}'"
            mark = " class='diag'" if c == name else ""
            cells.append(f"<td{mark}{style if v else ''}>{int(v) if v else ''}</td>")
        body.append(f"<tr><th>{html.escape(name)}</th><td>{total}</td>{''.join(cells)}</tr>")
    return f"<table class='subtypes'><tr><th>true \\ predicted</th><th>n</th>{head}</tr>{''.join(body)}</table>"
