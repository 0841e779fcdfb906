"""Links from a dermfeat estimator's HTML representation to its page in the API reference."""

from __future__ import annotations

import os

#: Where dermfeat's documentation is published (``make docs`` builds the same pages offline).
DOCS_URL = "https://dermfeat.readthedocs.io/en/latest/"

#: Environment variable that replaces :data:`DOCS_URL`, e.g. with a local build:
#: ``DERMFEAT_DOCS_URL=file:///path/to/dermfeat/docs/_build/html``.
DOCS_URL_ENV = "DERMFEAT_DOCS_URL"


def docs_url():
    """The documentation's base URL, ending in ``/``.

    Returns
    -------
    url : str
        ``$DERMFEAT_DOCS_URL`` when set, else :data:`DOCS_URL`.

    Examples
    --------
    >>> from dermfeat.utils._doc_link import docs_url
    >>> docs_url().endswith("/")
    True
    """
    return (os.environ.get(DOCS_URL_ENV) or DOCS_URL).rstrip("/") + "/"


class DocLinkMixin:
    """Make scikit-learn's HTML repr link a dermfeat estimator to its API page.

    scikit-learn draws a "?" link to the documentation in an estimator's HTML
    representation (Jupyter, :func:`sklearn.utils.estimator_html_repr`) when the
    estimator's class belongs to ``_doc_link_module``.  This mixin points it at
    dermfeat's API reference, one page per public class:
    ``<docs>/api/generated/<public module>.<class>.html``, where the public
    module is the class's module up to its first private part (for example
    ``dermfeat.features`` for ``dermfeat.features._lbp``).  Put it before
    :class:`~sklearn.base.BaseEstimator` in the bases.

    Examples
    --------
    >>> from dermfeat.features import LBPFeatures
    >>> LBPFeatures()._get_doc_link().endswith("api/generated/dermfeat.features.LBPFeatures.html")
    True
    """

    _doc_link_module = "dermfeat"
    _doc_link_url_param_generator = None

    @property
    def _doc_link_template(self):
        return docs_url() + "api/generated/{estimator_module}.{estimator_name}.html"
