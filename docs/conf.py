"""Sphinx configuration: builds offline (no intersphinx fetches, built-in theme).

The API reference has one page per public module, class and function (autosummary,
from each module's ``__all__``); the example gallery is built by sphinx-gallery from
``examples/plot_*.py`` (``-D plot_gallery=0`` builds it without running them).
"""

import importlib
import inspect
import os
import sys

from sphinx.pycode import ModuleAnalyzer

import dermfeat

project = "dermfeat"
author = "dermfeat developers"
copyright = "dermfeat developers"
release = dermfeat.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "features and decisions for clinical skin photographs", "fixed_sidebar": True}

# ------------------------------------------------------------------ API reference
#: The modules of the API reference, in the order of docs/api/index.rst.
API_MODULES = [
    "dermfeat", "dermfeat.io", "dermfeat.imaging", "dermfeat.datasets", "dermfeat.base",
    "dermfeat.preprocessing", "dermfeat.features", "dermfeat.extraction", "dermfeat.zoo",
    "dermfeat.model_selection", "dermfeat.decision", "dermfeat.pipeline", "dermfeat.metrics", "dermfeat.ordinal",
    "dermfeat.uncertainty",
    "dermfeat.evaluation", "dermfeat.explain", "dermfeat.persistence", "dermfeat.serve",
    "dermfeat.utils", "dermfeat.testing", "dermfeat.testing.estimator_checks",
]


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:  # a module without __all__: what it defines itself
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__]
    return [n for n in names if not n.startswith("__")]


def _public_api():
    """Per module: its classes, exceptions and functions (each on its own page) and its constants.

    An object that several modules export gets its page under the module it is
    defined in; the others list it with a link to that page.
    """
    modules = {name: importlib.import_module(name) for name in API_MODULES}
    homes = {}  # id(object) -> (score, module, name): the closest module above its definition wins
    for name, module in modules.items():
        for member in _public_names(module):
            obj = getattr(module, member)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                defined_in = getattr(obj, "__module__", None) or ""
                score = len(name) if defined_in == name or defined_in.startswith(name + ".") else -1
                if id(obj) not in homes or score > homes[id(obj)][0]:
                    homes[id(obj)] = (score, name, member)
    api = {}
    for name, module in modules.items():
        entry = {"classes": [], "exceptions": [], "functions": [], "data": [], "elsewhere": []}
        for member in _public_names(module):
            obj = getattr(module, member)
            if inspect.ismodule(obj):
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                _, home, home_name = homes[id(obj)]
                if home != name:
                    entry["elsewhere"].append(f"{home}.{home_name}")
                elif inspect.isclass(obj) and issubclass(obj, BaseException):
                    entry["exceptions"].append(member)
                else:
                    entry["classes" if inspect.isclass(obj) else "functions"].append(member)
            else:
                entry["data"].append(member)
        api[name] = entry
    return api


autosummary_context = {"dermfeat_api": _public_api()}

# ------------------------------------------------------------------ example gallery
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("dermfeat",),
    "backreferences_dir": os.path.join("api", "generated", "backreferences"),
    "reference_url": {"dermfeat": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
}


def _constant_docs(app, what, name, obj, options, lines):
    """A constant shows the ``#:`` comment where it is defined, not its type's docstring."""
    if what != "data" or getattr(obj, "__doc__", None) != getattr(type(obj), "__doc__", None):
        return
    package, _, attr = name.rpartition(".")
    lines[:] = []
    for module_name in sorted(m for m in sys.modules if m == package or m.startswith(package + ".")):
        if getattr(sys.modules[module_name], attr, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:  # noqa: BLE001 - no source to read: the constant stays undocumented
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return


def _skip_routing_methods(app, what, name, obj, skip, options):
    """scikit-learn generates set_*_request methods; their docstrings link to its own docs."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_routing_methods)
    app.connect("autodoc-process-docstring", _constant_docs)
