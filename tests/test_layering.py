"""The dependency direction of DESIGN.md §2, checked on the source (no imports executed).

Every import counts: at module level, inside functions or ``TYPE_CHECKING`` blocks
(``ast.walk`` sees all of them), relative ones, and string imports:
``importlib.import_module("...")`` / ``__import__("...")`` with a literal name, and, in a
module that calls ``import_module`` with a computed name (a lazy export table such as
``avatar_app/infer/__init__.py``), every string naming an ``avatar_app`` module.

The rules look only at the files that exist, so modules may move between layers freely;
the named exceptions are keyed by path and checked only where the file exists.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "avatar_app"

# layer -> layers it may import (itself implied). Nothing imports gui (see GUI_IMPORTERS).
ALLOWED = {
    "core": set(),
    "io": {"core"},
    "models": {"core", "io"},
    "infer": {"core", "io", "models"},
    "rig": {"core"},
    "raster": {"core", "rig"},
    "tracking": {"core", "io", "models", "infer", "rig"},
    "outputs": {"core", "io"},
    "pipeline": {"core", "io", "models", "infer", "rig", "raster", "tracking", "outputs"},
    "training": {"core", "io", "models", "infer", "rig", "raster"},
    "fit": {"core", "io", "models", "infer", "rig", "raster", "tracking"},
    "cli": {"core", "io", "models", "infer", "rig", "raster", "tracking", "outputs", "pipeline", "training", "fit"},
    "gui": {"core", "io", "models", "infer", "rig", "raster", "tracking", "outputs", "pipeline", "fit"},
}
# The one module outside gui/ that may import avatar_app.gui, and why.
GUI_IMPORTERS = {
    "cli/gui.py": "`avatar-app gui`, the sub-command that opens the window",
}
# torch belongs to the layers that run networks; anywhere else it needs a reason here.
TORCH_LAYERS = {"models", "infer", "training"}
TORCH_EXCEPTIONS = {
    "cli/render.py": "--threads calls torch.set_num_threads before the backend is built",
    "cli/adapt.py": "--threads calls torch.set_num_threads before training starts",
}
QT = {"PyQt6", "PySide6"}
# third-party modules a layer must not import (GL-free, OpenCV-free cores)
FORBIDDEN_THIRD_PARTY = {
    "core": {"moderngl", "cv2"},
    "io": {"moderngl"},
    "rig": {"moderngl"},
}

_MODULE_NAME = re.compile(r"avatar_app(\.[A-Za-z_][A-Za-z_0-9]*)+")


def _package_of(relative: Path) -> str:
    """Dotted package that relative imports in ``relative`` (a path under avatar_app/) start from."""
    parts = ["avatar_app", *relative.parts[:-1]]
    return ".".join(parts)


def _resolve(name: str, level: int, package: str) -> str:
    if level == 0:
        return name
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _is_import_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name in ("import_module", "__import__")


def imported_names(source: str, relative: Path) -> list[tuple[str, int]]:
    """(dotted module name, line) for every import in ``source``, the file at ``relative``."""
    tree = ast.parse(source, str(relative))
    package = _package_of(relative)
    found: list[tuple[str, int]] = []
    computed_import = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node.module or "", node.level, package)
            found.append((module, node.lineno))
            # `from avatar_app import gui` imports avatar_app.gui
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and _is_import_call(node) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                anchor = next((k.value for k in node.keywords if k.arg == "package"), None)
                level = len(arg.value) - len(arg.value.lstrip("."))
                if level:  # relative to package=..., a literal, else (__package__, __name__) this module's
                    base = anchor.value if isinstance(anchor, ast.Constant) else package
                    found.append((_resolve(arg.value[level:], level, base), node.lineno))
                else:
                    found.append((arg.value, node.lineno))
            else:
                computed_import = True
    if computed_import:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.fullmatch(node.value):
                found.append((node.value, node.lineno))
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _layer(relative: Path) -> str | None:
    return relative.parts[0] if len(relative.parts) > 1 else None


def violations(relative: Path, source: str) -> list[str]:
    """Every rule ``source`` (the file at ``relative`` under avatar_app/) breaks, one line each."""
    key, layer = relative.as_posix(), _layer(relative)
    problems = []
    for name, line in imported_names(source, relative):
        top, *rest = name.split(".")
        where = f"{key}:{line} imports {name}"
        target = rest[0] if top == "avatar_app" and rest and rest[0] in ALLOWED else None
        if target == "gui":
            if layer != "gui" and key not in GUI_IMPORTERS:
                problems.append(f"{where}; nothing outside avatar_app/gui imports it except {sorted(GUI_IMPORTERS)}")
        elif target is not None and layer is not None and target != layer and target not in ALLOWED[layer]:
            problems.append(f"{where}; layer '{layer}' may import only {sorted(ALLOWED[layer])} (DESIGN.md §2)")
        if top in QT and layer != "gui":
            problems.append(f"{where}; only avatar_app/gui may import Qt")
        if top == "torch" and layer not in TORCH_LAYERS and key not in TORCH_EXCEPTIONS:
            problems.append(
                f"{where}; torch belongs in {sorted(TORCH_LAYERS)}: move the code there, or name this module in "
                "TORCH_EXCEPTIONS with the reason"
            )
        if top in FORBIDDEN_THIRD_PARTY.get(layer, ()):
            problems.append(f"{where}, which layer '{layer}' must not")
    return problems


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layering(path):
    problems = violations(path.relative_to(PACKAGE), path.read_text())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", sorted({**TORCH_EXCEPTIONS, **GUI_IMPORTERS}))
def test_named_exceptions_are_still_needed(key):
    path = PACKAGE / key
    if not path.is_file():
        pytest.skip(f"{key} is gone; drop its exception")
    heads = {tuple(name.split(".")[:2]) for name, _ in imported_names(path.read_text(), Path(key))}
    if key in TORCH_EXCEPTIONS:
        assert any(h[0] == "torch" for h in heads), f"{key} no longer imports torch: drop it from TORCH_EXCEPTIONS"
    if key in GUI_IMPORTERS:
        assert ("avatar_app", "gui") in heads, f"{key} no longer imports avatar_app.gui: drop it from GUI_IMPORTERS"


# ---- the scanner itself: each rule fails on the imports it is there to catch ----------------------------


@pytest.mark.parametrize(
    "key,source,expected",
    [
        ("core/x.py", "import torch", "torch belongs in"),
        ("pipeline/x.py", "def f():\n    import torch.nn", "torch belongs in"),
        ("rig/x.py", "import importlib\nimportlib.import_module('torch')", "torch belongs in"),
        ("tracking/x.py", "from avatar_app import gui", "nothing outside avatar_app/gui"),
        ("pipeline/x.py", "def f():\n    from avatar_app.gui.main_window import MainWindow", "nothing outside"),
        ("cli/x.py", "__import__('avatar_app.gui')", "nothing outside avatar_app/gui"),
        ("core/x.py", "from ..gui import tasks", "nothing outside avatar_app/gui"),
        ("core/x.py", "from .. import pipeline", "layer 'core' may import only"),
        ("io/x.py", "import importlib\nimportlib.import_module('..models', package='avatar_app.io')", "may import"),
        ("core/x.py", "import importlib\nimportlib.import_module('..gui', __package__)", "nothing outside"),
        ("core/x.py", "import importlib\nM = {'a': 'avatar_app.infer.x'}\nimportlib.import_module(M['a'])", "may"),
        ("outputs/x.py", "if TYPE_CHECKING:\n    from PyQt6.QtGui import QImage", "only avatar_app/gui may import Qt"),
        ("core/x.py", "import cv2", "must not"),
    ],
)
def test_scanner_catches(key, source, expected):
    found = violations(Path(key), textwrap.dedent(source))
    assert any(expected in line for line in found), found


@pytest.mark.parametrize(
    "key,source",
    [
        ("cli/gui.py", "from avatar_app.gui import run_gui"),
        ("gui/x.py", "from PyQt6 import QtWidgets\nfrom . import tasks\nfrom avatar_app.pipeline import live"),
        ("cli/render.py", "def run():\n    import torch"),
        ("infer/x.py", "import importlib\nimportlib.import_module('avatar_app.models.conr')"),
        ("rig/x.py", "generator = 'avatar_app.pipeline'  # a string, not an import"),
    ],
)
def test_scanner_allows(key, source):
    assert violations(Path(key), source) == []


def test_pipelines_are_built_only_inside_the_pipeline_package():
    """One builder (pipeline/builder.py): the CLI, the window and the tools call build_pipeline, never
    LivePipeline( themselves, so a setting cannot mean one thing in stream and another in the window."""
    tools = PACKAGE.parent / "tools"
    outside = [p for p in [*PACKAGE.rglob("*.py"), *tools.rglob("*.py")] if p.parent.name != "pipeline"]
    builders = [str(p.relative_to(PACKAGE.parent)) for p in outside if "LivePipeline(" in p.read_text()]
    assert builders == [], f"{builders} construct LivePipeline directly; call avatar_app.pipeline.build_pipeline"


MAX_MODULE_LINES = 450  # what reads in one sitting (issue #18); past it a module is asking to be split


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_package_module_is_too_long_to_read_in_one_sitting(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it along a seam"
