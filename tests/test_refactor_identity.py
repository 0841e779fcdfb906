"""Features, predictions and saved models are bit-identical before and after the refactor (issue 16).

The code of the refactor's base commit (:data:`BASE_COMMIT`) is exported with
``git archive <commit> src`` into a temporary folder.  Each case is a snippet of
Python run twice in a fresh interpreter, once with the old ``src`` and once with
the working tree's ``src`` first on ``PYTHONPATH``; the snippet leaves its answer
in a variable ``result``, which comes back pickled (see :func:`run_old_and_new`).
Cases run on synthetic photographs, and also on a few of the shared DermNet NZ
photographs and the shared ONNX backbones when ``../shared`` is beside the project.

The whole module skips, with the reason, when git or the base commit is not
available (e.g. in an installed sdist without history).
"""

from __future__ import annotations

import json
import os

import pytest

from dermfeat.persistence._allowlist import MOVED_TYPES

from ._identity import BASE_COMMIT, ROOT, assert_identical, export_base_src, run_snippet
from .conftest import DERMNET, MODELS

#: Classes moved by the refactor: old ``module.QualName`` -> new one.  A model saved
#: by the old code names the old path; the schema of a newly saved model is compared
#: after mapping the old paths to the new ones.
MOVED_CLASSES: dict[str, str] = dict(MOVED_TYPES)

#: Parameters added after the base commit: ``module.QualName`` -> {name: its default, as skops
#: writes it}.  A model saved by this tree's code must hold each at exactly that default (so
#: it behaves as before); they are then left out of the comparison with the old schema.
ADDED_PARAMS: dict[str, dict[str, str]] = {"dermfeat.features._onnx.OnnxEmbedder": {"pooling": "null", "view": '"crop"'}}


@pytest.fixture(scope="module")
def old_src(tmp_path_factory):
    """``src`` of :data:`BASE_COMMIT`, exported with ``git archive`` (skip if impossible)."""
    return export_base_src(tmp_path_factory.mktemp("refactor-base"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder both sides may read and write (images, model files)."""
    return tmp_path_factory.mktemp("refactor-work")


def run_old_and_new(old_src, code, workdir, **params):
    """``(old, new)``: the snippet's ``result`` under the base commit's code and under this tree's."""
    return run_snippet(old_src, code, workdir, **params), run_snippet(ROOT / "src", code, workdir, **params)


def _shared_photographs(n=3):
    """A few of the shared photographs, one per class first (empty without ../shared)."""
    manifest = DERMNET / "manifest.csv"
    if not manifest.is_file():
        return []
    rows = manifest.read_text(encoding="utf-8").splitlines()[1:]
    by_label = {}
    for row in rows:
        path, label = row.split(",")[:2]
        by_label.setdefault(label, []).append(os.fspath(DERMNET / path))
    picked = [paths[0] for paths in by_label.values()]
    picked += [p for paths in by_label.values() for p in paths[1:]]
    return picked[:n]


# --------------------------------------------------------------------------- engine (R1)
_ENGINE_SNIPPET = """
import tempfile
import numpy as np
import dermfeat.features as F
from dermfeat.datasets import make_lesion_images
from dermfeat.features._onnx_tiny import write_tiny_onnx_model
from dermfeat.preprocessing import ColorConstancy, LesionCrop

data = make_lesion_images(6, image_size=96, random_state=0)
folder = make_lesion_images(4, image_size=80, directory="jpegs", random_state=1)
sets = {"arrays": list(data.images), "files": [str(p) for p in folder.filenames], "shared": PARAMS["shared"]}
sets = {k: v for k, v in sets.items() if v}
extractors = {
    name: getattr(F, name)()
    for name in ("LBPFeatures", "GaborFeatures", "GLCMFeatures", "ColorFeatures", "RednessFeatures",
                 "SkinToneFeatures", "QualityFeatures", "HandcraftedFeatures")
}
extractors["HandcraftedFeatures(lbp,color)"] = F.HandcraftedFeatures(
    families=[("lbp", F.LBPFeatures(image_size=128)), ("color", F.ColorFeatures(image_size=96, spaces=["lab"]))])
extractors["OnnxEmbedder(tiny)"] = F.OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=40, center_crop=32)
extractors["OnnxEmbedder(tiny,tta)"] = F.OnnxEmbedder(
    write_tiny_onnx_model(layout="NHWC", image_size=24, seed=1), resize_short_side=28, channel_order="BGR",
    tta_flip=True, tta_crops=5, batch_size=2, n_threads=2)
for card in PARAMS["cards"]:
    extractors[f"OnnxEmbedder({card})"] = F.OnnxEmbedder.from_card(card)
result = {}
for name, extractor in extractors.items():
    for set_name, images in sets.items():
        if "OnnxEmbedder(" in name and name.endswith(".json)") and set_name != "shared":
            continue
        out = extractor.fit(images).transform(images)
        result[(name, set_name)] = (out, list(extractor.get_feature_names_out()))
# the parallel and the cached paths give the same rows
lbp = F.LBPFeatures(n_jobs=2, memory=tempfile.mkdtemp())  # a fresh cache on each side
result["LBP n_jobs=2 + cache"] = [lbp.fit(sets["files"]).transform(sets["files"]) for _ in range(2)]
bad = sets["files"][:2] + [b"not an image"]
features, errors = F.ColorFeatures().fit(bad).transform_with_errors(bad)
result["errors"] = (features, errors)
for step in (ColorConstancy(), LesionCrop()):
    for set_name, images in sets.items():
        result[(type(step).__name__, set_name)] = step.fit(images).transform(images)
"""


def test_engine_features_identical(old_src, workdir):
    """Every extractor and preprocessor, on arrays, JPEG files and shared photographs."""
    cards = []
    if (MODELS / "efficientnet_lite0.json").is_file():
        cards = [os.fspath(MODELS / "efficientnet_lite0.json"), os.fspath(MODELS / "dinov2_vits14.json")]
    old, new = run_old_and_new(old_src, _ENGINE_SNIPPET, workdir, shared=_shared_photographs(), cards=cards)
    assert_identical(old, new, "engine")


_SAVE_SNIPPET = """
import hashlib, json, zipfile
import numpy as np
from dermfeat.datasets import make_lesion_images
from dermfeat.pipeline import make_classifier
from dermfeat.persistence import load_model, save_model

data = make_lesion_images(40, image_size=64, random_state=2)
test = make_lesion_images(8, image_size=64, random_state=3)
result = {}
if PARAMS["mode"] == "save":
    for name in PARAMS["recipes"]:
        model = make_classifier(name, head="logistic", inner_cv=3, model_dir=PARAMS["model_dir"])
        model.fit(list(data.images), data.labels)
        save_model(model, f"{name.replace('+', '_')}.skops")
        result[name] = (model.predict(list(test.images)), model.predict_proba(list(test.images)))
for name in PARAMS["recipes"]:
    model, _ = load_model(f"{name.replace('+', '_')}.skops", model_dir=PARAMS["model_dir"])
    result[(name, "loaded")] = (model.predict(list(test.images)), model.predict_proba(list(test.images)))
    save_model(model, "again.skops")
    with zipfile.ZipFile("again.skops") as zf:
        digests = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n != "schema.json"}
        result[(name, "schema")] = (json.loads(zf.read("schema.json"))["content"]["estimator"], digests)
"""


def _qualified(schema, digests):
    """The skops schema to compare: moved class paths mapped, object ids dropped, array files by content.

    ``__module__`` + ``__class__`` become one ``__type__`` (``module.QualName``, mapped
    through :data:`MOVED_CLASSES`); a ``file`` entry (named after an object id) becomes
    the SHA-256 of the file's bytes.
    """
    if isinstance(schema, dict):
        out = {k: _qualified(v, digests) for k, v in schema.items() if k not in ("__module__", "__class__", "__id__")}
        if "__class__" in schema:
            name = f"{schema.get('__module__')}.{schema['__class__']}"
            out["__type__"] = MOVED_CLASSES.get(name, name)
        if isinstance(schema.get("file"), str):
            out["file"] = digests[schema["file"]]
        return out
    if isinstance(schema, list):
        return [_qualified(v, digests) for v in schema]
    return schema


def _without_added_params(schema):
    """The qualified schema without :data:`ADDED_PARAMS`, each checked to hold its default."""
    if isinstance(schema, dict):
        out = {k: _without_added_params(v) for k, v in schema.items()}
        for name, default in ADDED_PARAMS.get(schema.get("__type__"), {}).items():
            attributes = out["content"]  # a dict node: its entries and the type of each key, in order
            index = list(attributes["content"]).index(name)
            node = attributes["content"].pop(name)
            assert attributes["key_types"]["content"].pop(index) == {"__loader__": "TypeNode", "__type__": "builtins.str"}
            assert node["content"] == default, (schema["__type__"], name, node)
        return out
    if isinstance(schema, list):
        return [_without_added_params(v) for v in schema]
    return schema


def test_engine_saved_models_identical(old_src, workdir):
    """Models saved by the old code load and predict identically; new files have the same schema."""
    recipes, model_dir = ["handcrafted", "color+lbp"], None
    if (MODELS / "efficientnet_lite0.json").is_file():  # an embedder in a saved model, with its model file
        recipes, model_dir = recipes + ["efficientnet+color"], os.fspath(MODELS)
    saved = run_snippet(old_src, _SAVE_SNIPPET, workdir, mode="save", recipes=recipes, model_dir=model_dir)
    new = run_snippet(ROOT / "src", _SAVE_SNIPPET, workdir, mode="load", recipes=recipes, model_dir=model_dir)
    for name in recipes:
        assert_identical(saved[name], new[(name, "loaded")], f"{name} loaded by the new code")
        assert_identical(_qualified(*saved[(name, "schema")]), _without_added_params(_qualified(*new[(name, "schema")])),
                         f"{name} schema")
