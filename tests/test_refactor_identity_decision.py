"""The decision layer decides bit for bit as before the refactor that gave it its package (issue 16).

Each snippet runs once under the base commit's ``src`` and once under this
tree's (:mod:`tests._identity`), in fresh interpreters, and the answers must be
identical: predictions, probabilities, tuned thresholds and offsets, every
``cv_results_`` column, resampled rows, ordinal heads, the main
:func:`~dermfeat.pipeline.make_classifier` recipes on synthetic photographs,
and model files: a file saved by the old code loads and predicts the same with
the new code, and the skops schema of a newly saved model is the old one once
the moved class paths (:data:`~dermfeat.persistence._allowlist.MOVED_TYPES`)
are mapped back.  Snippets import names from their public paths, which both
trees have.
"""

from __future__ import annotations

import importlib.util

import pytest

from dermfeat.persistence._allowlist import MOVED_TYPES

from ._identity import ROOT, assert_identical, export_base_src, run_snippet

needs_imblearn = pytest.mark.skipif(importlib.util.find_spec("imblearn") is None, reason="needs imbalanced-learn")


@pytest.fixture(scope="module")
def base_src(tmp_path_factory):
    return export_base_src(tmp_path_factory.mktemp("refactor-base"))


def old_and_new(base_src, code, workdir, **params):
    return run_snippet(base_src, code, workdir, **params), run_snippet(ROOT / "src", code, workdir, **params)


_RECORD = """
import warnings
import numpy as np
warnings.simplefilter("ignore")

def record(est, X, y, attrs=(), **fit_params):
    est.fit(X, y, **fit_params)
    out = {"predict": np.asarray(est.predict(X))}
    for method in ("predict_proba", "decision_function"):
        if hasattr(est, method):
            out[method] = np.asarray(getattr(est, method)(X))
    for name in attrs:
        value = getattr(est, name)
        out[name] = {k: np.asarray(v) for k, v in value.items()} if isinstance(value, dict) else np.asarray(value)
    return out
"""

_THRESHOLDS = _RECORD + """
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from dermfeat.model_selection import Constraint, CostSensitiveClassifier, ThresholdTunedClassifier

Xb, yb = make_classification(240, n_features=8, weights=[0.8], random_state=0)
yb = np.where(yb == 1, "ad", "other")
groups = np.arange(240) // 3
Xm, ym = make_classification(300, n_features=8, n_informative=5, n_classes=4, random_state=1)
tuned = ["best_score_", "best_score_std_", "constraint_satisfied_", "cv_results_", "n_splits_"]
binary = ["best_threshold_", "best_threshold_std_", "fold_best_thresholds_", "pos_label_", *tuned]
multi = ["best_offsets_", "best_offsets_std_", "fold_best_offsets_", *tuned]
result = {
    "binary_constraint": record(ThresholdTunedClassifier(LogisticRegression(), objective="specificity",
                                constraint=("sensitivity", 0.8), pos_label="ad"), Xb, yb, binary),
    "binary_groups_grid": record(ThresholdTunedClassifier(LogisticRegression(), objective="f1", thresholds=25,
                                 pos_label="ad", constraint=Constraint("positive_rate", maximum=0.4, aggregate="all")),
                                 Xb, yb, binary, groups=groups),
    "binary_decision_function": record(ThresholdTunedClassifier(LinearSVC(), pos_label="ad"), Xb, yb, binary),
    "binary_scorer_refit_false": record(ThresholdTunedClassifier(LogisticRegression(), objective="qwk", cv=0.3,
                                        refit=False, pos_label="ad"), Xb, yb, binary),
    "binary_weighted_cost": record(ThresholdTunedClassifier(LogisticRegression(), objective="neg_mean_cost",
                                   cost_matrix=[[0, 1], [4, 0]], pos_label="ad"), Xb, yb, binary,
                                   sample_weight=np.linspace(0.5, 2, 240)),
    "binary_fixed_cost": record(ThresholdTunedClassifier(LogisticRegression(), tune=False, pos_label="ad",
                                cost_matrix=[[0, 1], [4, 0]]), Xb, yb, ["best_threshold_"]),
    "multiclass_macro_f1": record(ThresholdTunedClassifier(LogisticRegression(max_iter=500), objective="macro_f1",
                                  cv=3), Xm, ym, multi),
    "multiclass_constraint": record(ThresholdTunedClassifier(LogisticRegression(max_iter=500), thresholds=11,
                                    constraint=("recall_2", 0.7)), Xm, ym, multi),
    "multiclass_cost": record(ThresholdTunedClassifier(LogisticRegression(max_iter=500), cost_matrix="absolute",
                              objective="neg_mean_cost", cv=3), Xm, ym, multi),
    "multiclass_fixed": record(ThresholdTunedClassifier(LogisticRegression(max_iter=500), tune=False,
                               cost_matrix="squared"), Xm, ym, ["best_offsets_"]),
    "cost_sensitive": record(CostSensitiveClassifier(LogisticRegression(max_iter=500), cost_matrix="squared"),
                             Xm, ym, ["cost_matrix_"]),
}
"""

_RESAMPLING_AND_ORDINAL = _RECORD + """
import importlib.util
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from dermfeat.ordinal import MultiSignOrdinalClassifier, OrdinalClassifier
from dermfeat.pipeline import ResampledClassifier

Xb, yb = make_classification(200, n_features=6, weights=[0.85], random_state=2)
rng = np.random.default_rng(0)
Xo = rng.normal(size=(240, 4))
yo = np.digitize(Xo[:, 0] + 0.5 * Xo[:, 1] + rng.normal(scale=0.5, size=240), [-1, 0, 1])
signs = np.column_stack([np.digitize(Xo[:, j] + rng.normal(scale=0.4, size=240), [-0.7, 0, 0.7]) for j in range(2)])
result = {
    "passthrough": record(ResampledClassifier(LogisticRegression()), Xb, yb, ["n_resampled_"]),
    "ordinal": record(OrdinalClassifier(LogisticRegression()), Xo, yo),
    "ordinal_cost": record(OrdinalClassifier(LogisticRegression(), decision="min_expected_cost", cost_matrix="squared",
                           monotonic="cummin"), Xo, yo),
}
multi = MultiSignOrdinalClassifier(LogisticRegression(), sign_names=["erythema", "oedema"]).fit(Xo, signs)
composite = multi.predict_composite(Xo[:20], interval=0.9)
result["multi_sign"] = {"predict": multi.predict(Xo), "distribution": composite.distribution,
                        "lower": composite.lower, "upper": composite.upper}
if importlib.util.find_spec("imblearn") is not None:
    for name in ("random_over", "random_under", "smote"):
        result[name] = record(ResampledClassifier(LogisticRegression(), sampler=name, random_state=0), Xb, yb,
                              ["n_resampled_"], sample_weight=None)
    result["random_over"]["sample_indices_"] = ResampledClassifier(
        LogisticRegression(), sampler="random_over", random_state=0).fit(Xb, yb).sample_indices_
"""

_RECIPES = _RECORD + """
from dermfeat.datasets import make_lesion_images
from dermfeat.pipeline import make_classifier

data = make_lesion_images(40, image_size=64, random_state=3)
X, y = list(data.images), np.asarray(data.target_names)[data.target]
recipes = {
    "fixed_balanced": dict(imbalance="balanced"),
    "macro_f1_oversample": dict(threshold="macro_f1", imbalance="oversample", inner_cv=3),
    "sensitivity_constraint_smote": dict(threshold="specificity", constraint="sensitivity>=0.8", imbalance="smote",
                                         inner_cv=3),
    "late_fusion_mlp": dict(features="color+redness", fusion="late", head="mlp", imbalance="none", threshold="balanced_accuracy",
                            inner_cv=3),
}
result = {}
for name, params in recipes.items():
    if "oversample" in name or "smote" in name:
        import importlib.util
        if importlib.util.find_spec("imblearn") is None:
            continue
    features = params.pop("features", "color")
    clf = make_classifier(features, **params)
    result[name] = record(clf, X, y, groups=data.groups)
    result[name]["threshold"] = np.asarray(clf[-1].best_threshold_)
"""

_MODEL_FILES = """
import json, warnings, zipfile
import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from dermfeat.datasets import make_lesion_images
from dermfeat.model_selection import Constraint, CostSensitiveClassifier, ThresholdTunedClassifier
from dermfeat.ordinal import MultiSignOrdinalClassifier, OrdinalClassifier
from dermfeat.persistence import load_model, save_model
from dermfeat.pipeline import ResampledClassifier, make_classifier
warnings.simplefilter("ignore")

Xb, yb = make_classification(200, n_features=6, weights=[0.8], random_state=4)
Xm, ym = make_classification(240, n_features=6, n_informative=4, n_classes=3, random_state=5)
signs = np.column_stack([np.digitize(Xm[:, j], [-0.7, 0, 0.7]) for j in range(2)])
data = make_lesion_images(30, image_size=64, random_state=6)
images, labels = list(data.images), np.asarray(data.target_names)[data.target]
models = {
    "tuned_resampled": (ThresholdTunedClassifier(ResampledClassifier(LogisticRegression()), constraint=Constraint("sensitivity", minimum=0.7)), Xb, yb),
    "tuned_multiclass": (ThresholdTunedClassifier(LogisticRegression(max_iter=500), cv=3), Xm, ym),
    "cost": (CostSensitiveClassifier(LogisticRegression(max_iter=500), cost_matrix="absolute"), Xm, ym),
    "ordinal": (OrdinalClassifier(LogisticRegression(), decision="min_expected_cost"), Xm, ym),
    "multi_sign": (MultiSignOrdinalClassifier(LogisticRegression()), Xm, signs),
    "recipe": (make_classifier("color", threshold="macro_f1", inner_cv=3), images, labels),
}

def _schema(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("schema.json"))

result = {}
for name, (model, X, y) in models.items():
    model.fit(X, y)
    path = save_model(model, f"{PARAMS['tag']}_{name}.skops")
    proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    result[name] = {"predict": np.asarray(model.predict(X)), "schema": _schema(path),
                    "predict_proba": [np.asarray(p) for p in proba] if isinstance(proba, list) else np.asarray(proba)}
if PARAMS.get("load"):
    result["loaded"] = {}
    for name, (_, X, _) in models.items():
        loaded, _ = load_model(f"{PARAMS['load']}_{name}.skops")
        proba = loaded.predict_proba(X) if hasattr(loaded, "predict_proba") else None
        result["loaded"][name] = {"predict": np.asarray(loaded.predict(X)),
                                  "predict_proba": [np.asarray(p) for p in proba] if isinstance(proba, list) else np.asarray(proba)}
"""


def test_threshold_tuning_and_costs_are_identical(base_src, tmp_path):
    old, new = old_and_new(base_src, _THRESHOLDS, tmp_path)
    assert len(old) == 11
    assert_identical(old, new)


def test_resampling_and_ordinal_heads_are_identical(base_src, tmp_path):
    old, new = old_and_new(base_src, _RESAMPLING_AND_ORDINAL, tmp_path)
    assert_identical(old, new)


@needs_imblearn
def test_make_classifier_recipes_are_identical(base_src, tmp_path):
    old, new = old_and_new(base_src, _RECIPES, tmp_path)
    assert len(old) == 4
    assert_identical(old, new)


def _normalised(schema):
    """A skops schema without object ids and array file names, with moved class paths mapped back."""
    renamed = {new: old for old, new in MOVED_TYPES.items()}
    if isinstance(schema, list):
        return [_normalised(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _normalised(v) for k, v in schema.items() if k not in ("__id__", "file")}
    if "__module__" in out and "__class__" in out:
        old = renamed.get(f"{out['__module__']}.{out['__class__']}")
        if old is not None:
            out["__module__"], out["__class__"] = old.rsplit(".", 1)
    return out


@needs_imblearn
def test_model_files_saved_before_load_and_predict_the_same(base_src, tmp_path):
    old = run_snippet(base_src, _MODEL_FILES, tmp_path, tag="old")
    new = run_snippet(ROOT / "src", _MODEL_FILES, tmp_path, tag="new", load="old")
    moved = set()
    for name in old:
        assert_identical(old[name]["predict"], new[name]["predict"], f"{name} refitted")
        assert_identical(old[name]["predict_proba"], new[name]["predict_proba"], f"{name} refitted")
        assert_identical(old[name]["predict"], new["loaded"][name]["predict"], f"{name} loaded")
        assert_identical(old[name]["predict_proba"], new["loaded"][name]["predict_proba"], f"{name} loaded")
        # the estimator's part of the file (its metadata hold the time it was saved)
        old_schema, new_schema = (side[name]["schema"]["content"]["estimator"] for side in (old, new))
        assert_identical(_normalised(old_schema), _normalised(new_schema), f"{name} schema")
        moved |= {p for p in MOVED_TYPES if p.rsplit(".", 1)[1] in str(old[name]["schema"])}
    # the files use the old paths of every moved class: each alias was needed to load them
    assert moved == set(MOVED_TYPES)
