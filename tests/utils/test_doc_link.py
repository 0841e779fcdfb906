"""Every public dermfeat estimator links to its own API page from its HTML repr."""

import importlib
import inspect
import itertools
import re

import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_html_repr

import dermfeat
from dermfeat.features import ColorFeatures
from dermfeat.model_selection import ThresholdTunedClassifier
from dermfeat.utils._doc_link import DOCS_URL, DOCS_URL_ENV


def public_estimators():
    """``(public module, class)`` for every estimator class a public module exports."""
    found = []
    for module_name in sorted(dermfeat._SUBMODULES - {"cli"}):
        module = importlib.import_module(f"dermfeat.{module_name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found.append((module.__name__, obj))
    return found


ESTIMATORS = public_estimators()


def test_the_estimators_are_found():
    names = {cls.__name__ for _, cls in ESTIMATORS}
    assert {"HandcraftedFeatures", "OnnxEmbedder", "ColorConstancy", "ThresholdTunedClassifier",
            "OrdinalClassifier", "ResampledClassifier"} <= names


def _home(cls):
    """The public module a class is defined under (its page's module; re-exports link there too)."""
    return ".".join(itertools.takewhile(lambda part: not part.startswith("_"), cls.__module__.split(".")))


@pytest.mark.parametrize(("module", "cls"), ESTIMATORS, ids=[cls.__name__ for _, cls in ESTIMATORS])
def test_links_to_its_page_in_the_api_reference(module, cls):
    # the link depends on the class alone: no need for the constructor's arguments
    estimator = cls.__new__(cls)
    home = _home(cls)
    assert estimator._get_doc_link() == f"{DOCS_URL}api/generated/{home}.{cls.__name__}.html"
    # a module that re-exports a class (e.g. a former home) links to the page where it is defined
    assert module == home or getattr(importlib.import_module(home), cls.__name__) is cls


def test_the_html_repr_links_dermfeat_and_scikit_learn_estimators():
    pipe = make_pipeline(ColorFeatures(), ThresholdTunedClassifier(LogisticRegression()))
    links = set(re.findall(r'href="([^"#]+)', estimator_html_repr(pipe)))
    assert f"{DOCS_URL}api/generated/dermfeat.features.ColorFeatures.html" in links
    assert f"{DOCS_URL}api/generated/dermfeat.decision.ThresholdTunedClassifier.html" in links
    # scikit-learn's own estimators keep their links to scikit-learn's documentation
    assert any(link.startswith("https://scikit-learn.org/") and "LogisticRegression" in link for link in links)


def test_the_base_url_can_point_to_a_local_build(monkeypatch):
    monkeypatch.setenv(DOCS_URL_ENV, "file:///srv/dermfeat-docs/html")
    link = ColorFeatures()._get_doc_link()
    assert link == "file:///srv/dermfeat-docs/html/api/generated/dermfeat.features.ColorFeatures.html"
