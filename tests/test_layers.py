"""The package's layers: no import circles, and no import from a floor to a higher one.

Every ``import`` of a dermfeat module in ``src/dermfeat`` is read with :mod:`ast`
(those inside functions too), so anyone can run the same check with
``python -m pytest tests/test_layers.py``.  Importing a module also imports the
packages it stands in, so those edges count as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: The floors, from the ground up: a unit may import units on its own floor or lower.
#: A unit is a sub-package (``features``), or a module named on its own (``zoo._quantize``).
LAYERS = [
    {"dermfeat", "_exceptions", "_progress", "io", "imaging", "utils"},
    {"base"},
    {"zoo"},
    {"features", "preprocessing"},
    {"metrics", "model_selection", "decision", "ordinal"},
    {"datasets"},
    {"pipeline", "evaluation", "explain", "extraction", "persistence", "uncertainty", "zoo._quantize"},
    {"cli", "serve", "testing", "__main__"},
]

#: Old import paths kept working for user code, each an import of a higher floor made on
#: first use only (never when dermfeat itself is imported).  Nothing else may be listed.
COMPATIBILITY = {
    ("dermfeat.utils", "dermfeat.testing"),  # utils.all_image_estimators
    ("dermfeat.utils.estimator_checks", "dermfeat.testing.estimator_checks"),
    ("dermfeat.zoo", "dermfeat.zoo._quantize"),  # zoo.quantize_model, zoo.default_calibration_images
}


def _module(path):
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """``{module: {imported dermfeat module or package}}`` over the whole source tree."""
    modules = {_module(p): p for p in (SRC / "dermfeat").rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            for candidate in candidates:
                if candidate in modules:
                    targets.add(candidate)
        targets = {t for t in targets if (name, t) not in COMPATIBILITY}
        # importing a.b.c runs a/__init__ and a/b/__init__ too
        for target in list(targets):
            parts = target.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules)
        targets.discard(name)
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def _unit(module):
    parts = module.split(".")
    if len(parts) == 1:
        return "dermfeat"
    named = ".".join(parts[1:3])
    return named if any(named in layer for layer in LAYERS) else parts[1]


def _floor(unit):
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def test_every_unit_has_a_floor():
    units = {_unit(m) for m in _imports()}
    assert not [u for u in units if not any(u in layer for layer in LAYERS)]


def test_no_import_runs_up_the_layers():
    upward = [
        f"{a} (floor {_floor(_unit(a))}) imports {b} (floor {_floor(_unit(b))})"
        for a, targets in sorted(_imports().items())
        for b in sorted(targets)
        if _floor(_unit(b)) > _floor(_unit(a))
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    graph = _imports()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, circles


def test_compatibility_paths_still_work():
    import dermfeat.utils
    import dermfeat.zoo
    from dermfeat import testing
    from dermfeat.testing import estimator_checks
    from dermfeat.utils.estimator_checks import image_estimator_checks

    assert dermfeat.utils.all_image_estimators is testing.all_image_estimators
    assert image_estimator_checks is estimator_checks.image_estimator_checks
    assert callable(dermfeat.zoo.quantize_model) and callable(dermfeat.zoo.default_calibration_images)
