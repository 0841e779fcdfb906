"""Images and clinical metadata in one pipeline: a ColumnTransformer over a DataFrame."""

from __future__ import annotations

from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_union
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def make_fusion_pipeline(
    image_features,
    *,
    numeric=(),
    categorical=(),
    head=None,
    image_column="image",
    model_dir=None,
    memory=None,
    n_jobs=None,
):
    """One classifier on image features and tabular clinical data (age, body site, ...).

    The input is a DataFrame with a column of image paths next to the clinical
    columns (e.g. ``load_image_folder(root, as_frame=True).frame``).  A
    :class:`~sklearn.compose.ColumnTransformer` sends the image column through
    the feature extractor and a scaler, numeric columns through a median
    imputer and a scaler, categorical columns through a most-frequent imputer
    and a one-hot encoder (categories unseen in training are ignored), and
    concatenates everything for the head.  Every step is fitted on the training
    rows only, so the result cross-validates without leakage like any
    scikit-learn pipeline (step names: ``columns`` with ``image``, ``numeric``,
    ``categorical``; ``clf``).

    Parameters
    ----------
    image_features : str, transformer, list of transformers or None
        A feature-set name for :func:`make_features` (``"handcrafted"``,
        ``"color+quality"``, ``"efficientnet"``, ...), an image transformer, or a
        list of them (combined with :func:`~sklearn.pipeline.make_union`);
        ``None`` for a metadata-only model.  Transformers are cloned.
    numeric : sequence of str, default=()
        Numeric columns (missing values: the training median).
    categorical : sequence of str, default=()
        Categorical columns (missing values: the most frequent training value).
    head : classifier, optional
        Default ``LogisticRegression(max_iter=5000)``.  Cloned.
    image_column : str, default="image"
        The column of image paths (or arrays).
    model_dir, memory, n_jobs : optional
        Passed to :func:`make_features` when ``image_features`` is a name.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from dermfeat.datasets import load_image_folder, make_lesion_images
    >>> from dermfeat.pipeline import make_fusion_pipeline
    >>> folder = tempfile.mkdtemp()
    >>> _ = make_lesion_images(40, image_size=48, directory=folder, random_state=0)
    >>> frame = load_image_folder(folder, as_frame=True).frame
    >>> rng = np.random.default_rng(0)
    >>> frame["age"] = rng.integers(1, 80, len(frame)).astype(float)
    >>> frame["site"] = rng.choice(["face", "flexure", "trunk"], len(frame))
    >>> pipe = make_fusion_pipeline("quality", numeric=["age"], categorical=["site"])
    >>> pipe = pipe.fit(frame, frame["label"])
    >>> pipe.predict_proba(frame).shape
    (40, 2)
    >>> names = pipe[:-1].get_feature_names_out()
    >>> names[0], names[-1]
    ('image__blur_laplacian_var', 'categorical__site_trunk')
    """
    numeric, categorical = list(numeric), list(categorical)
    transformers = []
    if image_features is not None:
        if isinstance(image_features, str):
            from ._recipes import make_features

            features = make_features(image_features, model_dir=model_dir, memory=memory, n_jobs=n_jobs)
        elif isinstance(image_features, (list, tuple)):
            features = make_union(*[clone(f) for f in image_features])
        else:
            features = clone(image_features)
        transformers.append(("image", Pipeline([("features", features), ("scale", StandardScaler())]), [image_column]))
    if numeric:
        transformers.append(
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric)
        )
    if categorical:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(
            ("categorical", Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("encode", encode)]),
             categorical)
        )
    if not transformers:
        raise ValueError("nothing to learn from: give image_features, numeric or categorical columns")
    head = LogisticRegression(max_iter=5000) if head is None else clone(head)
    return Pipeline([("columns", ColumnTransformer(transformers, remainder="drop")), ("clf", head)])
