"""Every module outside avatar_app/gui imports in a Python where Qt cannot be imported.

The headless commands (render, stream, udp, demo, the tools) must run on a machine without
PyQt6. Instead of a second environment, a child interpreter gets a ``sys.meta_path`` finder
that refuses PyQt6/PySide6 (as if they were not installed) and imports every module of the
package except ``avatar_app.gui.*``. ``avatar_app.cli.gui`` is included: it imports the
window only when the sub-command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback

QT = ("PyQt6", "PySide6", "PyQt5", "PySide2", "shiboken6", "sip")


class NoQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in QT:
            raise ModuleNotFoundError(f"No module named {name!r} (Qt is blocked in this test)", name=name)
        return None


sys.meta_path.insert(0, NoQt())
import avatar_app


def names(package):
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name == "avatar_app.gui" or info.name.endswith(".__main__"):
            continue
        yield info.name
        if info.ispkg:
            yield from names(importlib.import_module(info.name))


failed, imported = {}, []
for name in names(avatar_app):
    try:
        importlib.import_module(name)
        imported.append(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in QT or m.split(".")[:2] == ["avatar_app", "gui"])
print(json.dumps({"imported": imported, "failed": failed, "loaded": loaded}))
"""


def test_every_module_outside_gui_imports_without_qt():
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    problems = "\n".join(f"{name}:\n{trace}" for name, trace in report["failed"].items())
    assert not report["failed"], f"these modules need Qt (or another missing module) at import time:\n{problems}"
    assert not report["loaded"], f"imported without being asked for: {report['loaded']} (only avatar_app/gui may)"
    # The walk really ran: every layer but gui was imported, modules and not only packages.
    layers = {p.name for p in (REPO / "avatar_app").iterdir() if (p / "__init__.py").is_file()} - {"gui"}
    seen = {name.split(".")[1] for name in report["imported"] if name.count(".") >= 2}
    assert layers <= seen, f"no module imported from {sorted(layers - seen)}"
