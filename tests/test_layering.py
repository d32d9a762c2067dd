"""The dependency direction of DESIGN.md §2, checked on the source (no imports executed)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "avatar_app"

# layer -> layers it may import (itself implied)
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
    "cli": {"core", "io", "models", "infer", "rig", "raster", "tracking", "outputs", "pipeline", "training", "gui"},
    "gui": {"core", "io", "models", "infer", "rig", "raster", "tracking", "outputs", "pipeline"},
}
# third-party modules a layer must not import (torch-free, Qt-free, GL-free cores)
FORBIDDEN_THIRD_PARTY = {
    "core": {"torch", "PyQt6", "moderngl", "cv2"},
    "io": {"torch", "PyQt6", "moderngl"},
    "rig": {"torch", "PyQt6", "moderngl"},
    "raster": {"torch", "PyQt6"},
}
QT = {"PyQt6", "PySide6"}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layering(path):
    parts = path.relative_to(PACKAGE).parts
    layer = parts[0] if len(parts) > 1 else None
    for name in _imports(path):
        top, *rest = name.split(".")
        if top == "avatar_app" and rest and layer is not None:
            target = rest[0]
            assert target == layer or target in ALLOWED.get(layer, set()), (
                f"{path.relative_to(PACKAGE)} imports avatar_app.{target}; layer '{layer}' may import only "
                f"{sorted(ALLOWED.get(layer, set()))} (DESIGN.md §2)"
            )
        if top in QT:
            assert layer == "gui", f"{path.relative_to(PACKAGE)} imports {top}; only avatar_app/gui may import Qt"
        if layer in FORBIDDEN_THIRD_PARTY:
            assert top not in FORBIDDEN_THIRD_PARTY[layer], f"{path.relative_to(PACKAGE)} imports {top}, which layer '{layer}' must not"
