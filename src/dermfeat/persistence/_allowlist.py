"""The types a dermfeat model file may contain, and how skops may build each one.

This list is the whole of what :func:`~dermfeat.persistence.load_model` accepts
without ``trusted=``.  It was derived by saving every model dermfeat builds (all
recipes of :func:`~dermfeat.pipeline.make_classifier`, every head, imbalance
strategy, threshold objective, sampler, ordinal and cost-sensitive head,
preprocessing step and fusion pipeline: ``tests/persistence/test_allowlist.py``)
and recording each name skops would import together with the node kind that
would build it, then written out here so that it can be reviewed.  The same
test fails when a model dermfeat builds needs an entry that is missing, when an
entry no longer resolves, and when a public dermfeat estimator is not listed.

Each entry maps a fully qualified name to the skops node kinds allowed to
build it.  The node kind matters as much as the name: ``ObjectNode`` creates
an instance without calling anything and sets its state, while ``ListNode``,
``ConstructorFromReduceNode`` or ``NdArrayNode`` *call* the named class with
arguments taken from the file, so ``numpy.ndarray`` is allowed as an array
read with ``allow_pickle=False`` and refused as a constructor call.

There are no functions or methods: no model dermfeat builds stores one (tuned
thresholds keep their objective as a name, not as a scorer).  A function would
have to be added here by name, as a ``FunctionNode``, after checking that
calling it with any arguments has no side effects.

A few entries were not seen in the enumeration but differ from seen ones only
in a detail of the data; they are marked "generalisation" below.
"""

from __future__ import annotations

_OBJECT = frozenset({"ObjectNode"})
# numpy scalars are stored through ``np.save`` (NdArrayNode calls the scalar type on a
# 0-d array) and numpy/builtin types also appear as the key types of dicts (TypeNode).
_SCALAR = frozenset({"NdArrayNode", "TypeNode"})

_PYTHON = {
    "builtins.dict": frozenset({"DictNode"}),
    "collections.OrderedDict": frozenset({"DictNode"}),
    "builtins.list": frozenset({"ListNode"}),
    "builtins.tuple": frozenset({"TupleNode"}),
    "builtins.slice": frozenset({"SliceNode"}),
    "sklearn.utils._bunch.Bunch": frozenset({"DictNode"}),  # a dict with attribute access
    # key types of dicts: DictNode calls them on the stored key (str(key), int(key))
    "builtins.str": frozenset({"TypeNode"}),
    "builtins.int": frozenset({"TypeNode"}),  # generalisation: integer keys
    "builtins.float": frozenset({"TypeNode"}),  # generalisation: float keys
    "builtins.bool": frozenset({"TypeNode"}),  # generalisation: boolean keys
}

_NUMPY = {
    "numpy.ndarray": frozenset({"NdArrayNode"}),
    "numpy.dtype": frozenset({"DTypeNode"}),
    "numpy.float64": _SCALAR,
    "numpy.int64": _SCALAR,
    "numpy.uint64": _SCALAR,
    # generalisation: the other numeric scalars, for models fitted on other dtypes
    "numpy.float32": _SCALAR,
    "numpy.float16": _SCALAR,
    "numpy.int32": _SCALAR,
    "numpy.int16": _SCALAR,
    "numpy.int8": _SCALAR,
    "numpy.uint32": _SCALAR,
    "numpy.uint16": _SCALAR,
    "numpy.uint8": _SCALAR,
    "numpy.bool": _SCALAR,
    "numpy.str_": _SCALAR,
    "numpy.random.mtrand.RandomState": frozenset({"RandomStateNode"}),
    "numpy.random._generator.Generator": frozenset({"RandomGeneratorNode"}),
    # the bit generator named inside a Generator's state: only ever called with a SeedSequence
    "numpy.random.PCG64": frozenset({"RandomGeneratorNode"}),
    "numpy.random.PCG64DXSM": frozenset({"RandomGeneratorNode"}),  # generalisation
    "numpy.random.MT19937": frozenset({"RandomGeneratorNode"}),  # generalisation
    "numpy.random.Philox": frozenset({"RandomGeneratorNode"}),  # generalisation
    "numpy.random.SFC64": frozenset({"RandomGeneratorNode"}),  # generalisation
}

# generalisation: sparse matrices and arrays, read by scipy's load_npz (no pickles), and
# checked for consistent indices after loading
_SCIPY = {
    f"scipy.sparse._{fmt}.{fmt}_{kind}": frozenset({"SparseMatrixNode"})
    for fmt in ("csr", "csc")
    for kind in ("matrix", "array")
}

_SKLEARN = {
    name: _OBJECT
    for name in (
        "sklearn.pipeline.Pipeline",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.impute._base.SimpleImputer",
        # heads
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.svm._classes.SVC",  # content checked: libsvm reads its arrays unchecked
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.ensemble._voting.VotingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        # content checked: the trees' node indices are followed without bounds checks
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        # the neighbours of SMOTE-like samplers (a KD-tree on low-dimensional features)
        "sklearn.neighbors._unsupervised.NearestNeighbors",
        "sklearn.neighbors._kd_tree.KDTree",  # content checked, like the trees above
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        # cross-validation splitters given as ``cv=``
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.model_selection._split.StratifiedGroupKFold",
    )
}
# the Cython losses are rebuilt by calling their class with their (numeric) parameters
_SKLEARN.update({
    "sklearn._loss._loss.CyHalfBinomialLoss": frozenset({"LossNode", "TypeNode"}),
    "sklearn._loss._loss.CyHalfMultinomialLoss": frozenset({"LossNode", "TypeNode"}),
})

_IMBLEARN = {
    name: _OBJECT
    for name in (
        "imblearn.over_sampling._random_over_sampler.RandomOverSampler",
        "imblearn.under_sampling._prototype_selection._random_under_sampler.RandomUnderSampler",
        "imblearn.over_sampling._smote.base.SMOTE",
        "imblearn.over_sampling._smote.filter.BorderlineSMOTE",
        "imblearn.over_sampling._adasyn.ADASYN",
    )
}

_DERMFEAT = {
    name: _OBJECT
    for name in (
        "dermfeat.features._color.ColorFeatures",
        "dermfeat.features._gabor.GaborFeatures",
        "dermfeat.features._glcm.GLCMFeatures",
        "dermfeat.features._handcrafted.HandcraftedFeatures",
        "dermfeat.features._lbp.LBPFeatures",
        "dermfeat.features._onnx.OnnxEmbedder",
        "dermfeat.features._quality.QualityFeatures",
        "dermfeat.features._redness.RednessFeatures",
        "dermfeat.features._skin_tone.SkinToneFeatures",
        "dermfeat.preprocessing._color_constancy.ColorConstancy",
        "dermfeat.preprocessing._lesion_crop.LesionCrop",
        "dermfeat.pipeline._image_pipeline.ImagePipeline",
        "dermfeat.model_selection._split.RepeatedStratifiedGroupKFold",
        # the decision layer
        "dermfeat.decision._resampled.ResampledClassifier",
        "dermfeat.decision._hierarchical.HierarchicalClassifier",
        "dermfeat.decision._threshold.ThresholdTunedClassifier",
        "dermfeat.decision._constraint.Constraint",
        "dermfeat.decision._cost.CostSensitiveClassifier",
        "dermfeat.decision._ordinal.OrdinalClassifier",
        "dermfeat.decision._ordinal.MultiSignOrdinalClassifier",
        # knowing when not to answer
        "dermfeat.uncertainty._detector.OutOfDistributionDetector",
        "dermfeat.uncertainty._conformal.ConformalClassifier",
        "dermfeat.uncertainty._guarded.GuardedClassifier",
    )
}

#: ALIASES (not new types): the paths under which model files saved before a class moved name
#: it (issue 16's refactor), mapped to the entry of the class's current path.  The old module
#: still hands out the same class, so an alias allows exactly what its target allows, built the
#: same way; nothing else can be reached through one.
MOVED_TYPES = {
    "dermfeat.pipeline._resampled.ResampledClassifier": "dermfeat.decision._resampled.ResampledClassifier",
    "dermfeat.model_selection._threshold.ThresholdTunedClassifier": "dermfeat.decision._threshold.ThresholdTunedClassifier",
    "dermfeat.model_selection._threshold.Constraint": "dermfeat.decision._constraint.Constraint",
    "dermfeat.model_selection._cost.CostSensitiveClassifier": "dermfeat.decision._cost.CostSensitiveClassifier",
    "dermfeat.ordinal._ordinal.OrdinalClassifier": "dermfeat.decision._ordinal.OrdinalClassifier",
    "dermfeat.ordinal._ordinal.MultiSignOrdinalClassifier": "dermfeat.decision._ordinal.MultiSignOrdinalClassifier",
}

#: Every type a model file may contain without ``trusted=``, with the skops node kinds
#: allowed to build it (see the module docstring).
ALLOWED_TYPES = {**_PYTHON, **_NUMPY, **_SCIPY, **_SKLEARN, **_IMBLEARN, **_DERMFEAT}
ALLOWED_TYPES.update({old: ALLOWED_TYPES[new] for old, new in MOVED_TYPES.items()})  # the aliases above

#: Entries no model in the enumeration contained, listed because they differ from seen ones only
#: in a detail of the data (marked "generalisation" above); the test accepts them unused.
GENERALISATIONS = frozenset({
    "builtins.int", "builtins.float", "builtins.bool",
    "numpy.float32", "numpy.float16", "numpy.int32", "numpy.int16", "numpy.int8",
    "numpy.uint32", "numpy.uint16", "numpy.uint8", "numpy.bool", "numpy.str_",
    "numpy.random.PCG64DXSM", "numpy.random.MT19937", "numpy.random.Philox", "numpy.random.SFC64",
    *_SCIPY,
})
