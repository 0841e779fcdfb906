"""Sphinx configuration: builds offline (no intersphinx fetches, built-in theme)."""

import dermfeat

project = "dermfeat"
author = "dermfeat developers"
release = dermfeat.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
templates_path = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "features and decisions for clinical skin photographs", "fixed_sidebar": True}


def _skip_routing_methods(app, what, name, obj, skip, options):
    """scikit-learn generates set_*_request methods; their docstrings link to its own docs."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_routing_methods)
