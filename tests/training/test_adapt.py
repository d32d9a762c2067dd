"""`avatar-app adapt` on a tiny character at 128²: it learns, Ctrl-C keeps the best, a resume goes on.

A handful of steps each (what the suite can afford); the minutes and the scores that matter
are measured by ``tools/evaluate.py --adapt`` (README).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar_app.core.errors import SettingError
from avatar_app.models import load_weights_folder
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS
from avatar_app.training import adapt_folder as adapt_folder_module
from avatar_app.training.adapt import Adapter, AdaptSettings, check_device
from avatar_app.training.adapt_folder import DiskFullError, adapt_folder, inputs_from_folder

from adapt_helpers import TINY_SIZE

SIZE = TINY_SIZE
pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_dir(), reason="needs the shipped lite weights")


def settings(**kw) -> AdaptSettings:
    base = dict(minutes=10.0, size=SIZE, batch=2, poses=12, holdout=4, eval_every_s=1e9, preview_every_s=1e9)
    return AdaptSettings(**{**base, **kw})


@pytest.fixture
def character(tiny_adapt) -> Path:
    return tiny_adapt


def test_the_folder_gives_the_sheet_its_udp_and_the_face(character):
    inputs = inputs_from_folder(character, SIZE)
    assert inputs.sheet.rgb.shape == (1, 3, SIZE, SIZE) and inputs.sheet.udp.shape == (1, 4, SIZE, SIZE)
    drawn = inputs.sheet.alpha[0, 0] > 127
    covered = inputs.sheet.udp[0, 3] > 0.5
    assert (drawn & covered).sum() > 0.9 * covered.sum()  # the UDP lies on the drawing's pixels
    assert inputs.face_region is not None and inputs.framing == "full"


def test_adaptation_lowers_the_held_out_loss(character):
    adapter = Adapter(inputs_from_folder(character, SIZE), DEFAULT_WEIGHTS, settings())
    before = adapter.holdout_loss()
    adapter.run_until(1e9, steps=30)
    assert adapter.step == 30
    assert adapter.best_loss < 0.9 * before, (before, adapter.best_loss)
    # the parser (the sheet's encoder) is what the sheet state is made with: unchanged
    shipped = load_weights_folder(DEFAULT_WEIGHTS).udpparsernet.state_dict()
    for k, v in adapter.model.udpparsernet.state_dict().items():
        assert torch.equal(v.cpu(), shipped[k]), k


class StopAfter:
    """Ctrl-C once ``steps`` steps are reported (what the CLI's SIGINT handler does, by step)."""

    def __init__(self, steps: int):
        self.steps, self.seen = steps, 0

    def report(self, progress) -> None:
        self.seen = progress.step

    def cancel(self) -> bool:
        return self.seen >= self.steps


def test_ctrl_c_writes_the_best_weights_and_a_resume_goes_on_as_one_run(character, tmp_path):
    straight = Path(shutil.copytree(character, tmp_path / "straight"))
    whole = adapt_folder(straight, settings(), init=DEFAULT_WEIGHTS, steps=8)
    assert whole.finished and whole.report["steps"] == 8

    stop = StopAfter(5)
    stopped = adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=8, cancel=stop.cancel, report=stop.report)
    assert not stopped.finished and stopped.report["steps"] == 5
    weights = character / "weights"
    assert sorted(p.name for p in weights.iterdir()) == sorted(
        [
            "adapt.json",
            "model.json",
            "preview.png",
            "rgbadecodernet.pth",
            "shader.pth",
            "target_pose_encoder.pth",
            "udpparsernet.pth",
        ]
    )
    assert not [p for p in character.iterdir() if p.name.startswith(".weights")]  # no temporary left
    # the written weights are the best ones: their held-out loss is the best the run saw
    check = Adapter(inputs_from_folder(character, SIZE), weights, settings())
    assert check.holdout_loss() == pytest.approx(stopped.report["holdout_loss_best"], abs=1e-4)

    resumed = adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=8)
    assert resumed.finished and resumed.report["resumed_from"] == 5 and resumed.report["steps"] == 8
    a = torch.load(straight / ".adapt" / "state.pt", weights_only=True)["model"]
    b = torch.load(character / ".adapt" / "state.pt", weights_only=True)["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k  # the same batches, the same steps


def test_a_folder_without_sheet_udp_says_to_run_fit(character):
    shutil.rmtree(character / "sheet_udp")
    with pytest.raises(SettingError, match="avatar-app fit"):
        adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1)
    assert not (character / "weights").exists() and not (character / ".adapt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_a_missing_gpu_is_named_with_the_fix():
    with pytest.raises(SettingError, match="CUDA.*leave out --device"):
        check_device("cuda")
    with pytest.raises(SettingError, match="cpu, cuda"):
        check_device("tpu")


def test_too_little_disk_stops_before_anything_is_written(character, monkeypatch):
    monkeypatch.setattr(adapt_folder_module.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 1 << 20))
    with pytest.raises(DiskFullError, match="MiB free"):
        adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=1)
    assert not (character / "weights").exists() and not (character / ".adapt").exists()


def test_a_disk_full_while_exporting_keeps_the_old_weights(character, monkeypatch):
    adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=2)
    old = (character / "weights" / "shader.pth").read_bytes()

    def full(model, folder):
        (Path(folder) / "shader.pth").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(adapt_folder_module, "save_weights_folder", full)
    with pytest.raises(DiskFullError, match="disk is full"):
        adapt_folder(character, settings(), init=DEFAULT_WEIGHTS, steps=4)
    assert (character / "weights" / "shader.pth").read_bytes() == old
    assert not [p for p in character.iterdir() if p.name.startswith(".weights")]


def test_batches_are_a_function_of_the_step(character):
    adapter = Adapter(inputs_from_folder(character, SIZE), DEFAULT_WEIGHTS, settings(view_share=0.5))
    a, b, c = adapter.batch(3), adapter.batch(3), adapter.batch(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["udp"], c["udp"])
    assert np.isfinite(a["rgba"].numpy()).all() and a["udp"].shape == (2, 4, SIZE, SIZE)
