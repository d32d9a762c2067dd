"""Fixtures every test folder shares."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import new_threads, wait_until

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: each worker's torch and OpenMP keep to one thread, so
    # two workers do not fight over the same two cores (set before anything imports torch).
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"


@pytest.fixture(autouse=True)
def _graphs_and_engines_stay_out_of_the_checkout(monkeypatch, tmp_path_factory):
    """Anything that exports ONNX graphs or builds engines without naming a folder writes to a
    temporary deployment root, never to the checkout's engines/ (a test may set its own)."""
    monkeypatch.setenv("AVATAR_APP_DEPLOY", str(tmp_path_factory.getbasetemp() / "deploy-default"))


@pytest.fixture
def no_new_threads():
    """Fails the test if a thread started during it still runs at its end (a thread told to stop
    may be finishing its last line: up to 3 s)."""
    before = set(threading.enumerate())
    yield before
    wait_until(lambda: not new_threads(before), timeout=3.0)
    assert not new_threads(before), f"threads still running after the test: {new_threads(before)}"


@pytest.fixture
def config_home(tmp_path, monkeypatch) -> Path:
    """The user config folder (XDG_CONFIG_HOME) in tmp_path, so no test touches the real one."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def load_tool():
    """``load_tool("conformance")`` imports ``tools/conformance.py`` as a module (tools are scripts, not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"{name}_tool", TOOLS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def lite_graphs(tmp_path_factory) -> Path:
    """The three graphs of tools/export_onnx.py (lite preset, 128², synthetic weights), exported once."""
    out = tmp_path_factory.mktemp("onnx_lite")
    cmd = [
        sys.executable,
        str(TOOLS / "export_onnx.py"),
        "--synthetic",
        "--preset",
        "lite",
        "--size",
        "128",
        "--out",
        str(out),
        "--threads",
        "2",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "GridSample ok" in done.stdout
    return out


@pytest.fixture(scope="session")
def lite_deploy_root(lite_graphs, tmp_path_factory) -> Path:
    """A deployment root (``AVATAR_APP_DEPLOY``) that already holds the ONNX Runtime graphs of the
    synthetic lite weights at 128² (those of ``lite_graphs``, where ``Deployment.of`` looks)."""
    from avatar_app.infer.deploy import Deployment
    from avatar_app.models import create_conr, fill_networks

    root = tmp_path_factory.mktemp("deploy")
    onnx_dir = Deployment.of(fill_networks(create_conr("lite", init=False)), root).onnx_dir
    shutil.copytree(lite_graphs, onnx_dir)
    return root


@pytest.fixture(scope="session")
def tiny_adapt_made(tmp_path_factory) -> Path:
    """A tiny fitted character at ``adapt_helpers.TINY_SIZE`` (the adapt tests'), made once."""
    from adapt_helpers import tiny_character

    return tiny_character(tmp_path_factory.mktemp("adapt") / "tiny")


@pytest.fixture
def tiny_adapt(tiny_adapt_made, tmp_path) -> Path:
    """A fresh copy of it per test: adapt writes into the folder."""
    return Path(shutil.copytree(tiny_adapt_made, tmp_path / "tiny"))
