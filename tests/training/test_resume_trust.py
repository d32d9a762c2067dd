"""Resume files from someone else run no code: ``adapt``'s state.pt and before.npy, ``tools/train.py``'s last.pt.

Each test plants a file that writes a marker the moment it is unpickled, runs the real entry
point on it, and checks the refusal (a clear error naming the file and the fix, or a warning
for a preview cache) and that the marker was never written.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from planted import plant_npy, plant_npz, plant_raw_pickle, plant_torch

from avatar_app.core.errors import CheckpointError
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS
from avatar_app.training.adapt import AdaptSettings
from avatar_app.training.adapt_folder import adapt_folder

from adapt_helpers import TINY_SIZE

SIZE = TINY_SIZE
needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_dir(), reason="needs the shipped lite weights")


def settings() -> AdaptSettings:
    return AdaptSettings(minutes=10.0, size=SIZE, batch=2, poses=4, holdout=2, eval_every_s=1e9, preview_every_s=1e9)


@pytest.fixture
def character(tiny_adapt) -> Path:
    return tiny_adapt


def test_the_planted_files_run_code_when_unpickled(tmp_path):
    """The control: loaded the unsafe way, every planted file does run its code."""
    unsafe_loads = {
        "pt": (plant_torch, lambda p: torch.load(p, weights_only=False)),
        "raw": (plant_raw_pickle, lambda p: torch.load(p, weights_only=False)),
        "npy": (plant_npy, lambda p: np.load(p, allow_pickle=True)),
        "npz": (plant_npz, lambda p: np.load(p, allow_pickle=True)["i"]),
    }
    for name, (plant, load) in unsafe_loads.items():
        marker = tmp_path / f"{name}.ran"
        with contextlib.suppress(RuntimeError):  # torch's legacy reader runs it, then finds no magic number
            load(plant(tmp_path / f"planted.{name}", marker))
        assert marker.read_text() == "ran", name


@needs_weights
@pytest.mark.parametrize("plant", [plant_torch, plant_raw_pickle], ids=["torch-zip", "bare-pickle"])
def test_adapt_refuses_a_state_that_would_run_code(character, tmp_path, plant):
    marker = tmp_path / "ran"
    plant(character / ".adapt" / "state.pt", marker)
    with pytest.raises(CheckpointError, match="refused, nothing in it ran") as err:
        adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1)
    assert "state.pt" in err.value.source and "--restart" in err.value.fix
    assert not marker.exists()
    assert not (character / "weights").exists()


@needs_weights
def test_adapt_refuses_an_old_format_state_with_the_fix(character):
    old = {"model": {}, "optimizer": {}, "step": 3, "elapsed": 1.0, "best_loss": 1.0, "best_state": None}
    (character / ".adapt").mkdir()
    torch.save(old, character / ".adapt" / "state.pt")  # the layout before format 2: no "format" key
    with pytest.raises(CheckpointError, match="older avatar-app") as err:
        adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1)
    assert "--restart" in err.value.fix
    result = adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1, restart=True)  # the fix works
    assert result.finished and result.report["resumed_from"] == 0


@needs_weights
def test_adapt_ignores_a_before_preview_that_would_run_code(character, tmp_path, caplog):
    marker = tmp_path / "ran"
    plant_npy(character / ".adapt" / "before.npy", marker)
    with caplog.at_level(logging.WARNING):
        result = adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1)
    assert result.finished and not marker.exists()
    assert "before.npy: ignoring it" in caplog.text
    before = np.load(character / ".adapt" / "before.npy", allow_pickle=False)
    assert before.dtype == np.float32 and before.shape == (2, 4, SIZE, SIZE)  # made again from the renders


def _train(load_tool, out: Path, capsys) -> tuple[int, str]:
    tool = load_tool("train")
    argv = ["--out", str(out), "--steps", "1", "--size", "128", "--batch", "1", "--no-progress"]
    code = tool.main(argv + ["--train-characters", "1", "--val-characters", "1", "--val-samples", "1"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("plant", [plant_torch, plant_raw_pickle], ids=["torch-zip", "bare-pickle"])
def test_train_refuses_a_checkpoint_that_would_run_code(load_tool, tmp_path, capsys, plant):
    marker = tmp_path / "ran"
    run = tmp_path / "run"
    plant(run / "last.pt", marker)
    code, err = _train(load_tool, run, capsys)
    assert code == 2 and not marker.exists()
    assert "last.pt" in err and "refused, nothing in it ran" in err and "--restart" in err
    assert not (run / "weights").exists()


def test_train_refuses_an_old_format_checkpoint_with_the_fix(load_tool, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": {}, "optimizer": {}, "step": 3, "settings": {}, "elapsed": 0.0}, run / "last.pt")
    code, err = _train(load_tool, run, capsys)
    assert code == 2 and "older avatar-app" in err and "delete it" in err


def test_train_refuses_a_current_format_checkpoint_with_unknown_settings(load_tool, tmp_path, capsys):
    from avatar_app.training.resume_file import save_resume_file

    run = tmp_path / "run"
    meta = {"step": 3, "settings": {"preset": "lite", "rocket": True}, "elapsed": 0.0}  # a forged or future file
    save_resume_file(run / "last.pt", "training checkpoint", {"model": {}, "optimizer": {}}, meta)
    code, err = _train(load_tool, run, capsys)
    assert code == 2 and "rocket" in err and "delete it" in err


@needs_weights
def test_adapt_refuses_a_current_format_state_that_does_not_fit_the_character(character):
    from avatar_app.training.resume_file import save_resume_file

    meta = {"step": 1, "elapsed": 1.0, "best_loss": 1.0, "history": {"holdout": []}, "settings": settings().identity()}
    tensors = {"model": {"no.such.weight": torch.zeros(1)}, "optimizer": {}, "best_state": None}
    save_resume_file(character / ".adapt" / "state.pt", "adaptation state", tensors, meta)
    with pytest.raises(CheckpointError, match="does not fit this adaptation") as err:
        adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1)
    assert "--restart" in err.value.fix
