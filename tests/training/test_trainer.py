"""A short real training run: the loss goes down, a resumed run equals an uninterrupted one,
two gloo processes under torchrun keep identical weights, and the export loads in the app."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from avatar_app.models import create_conr, load_conr_weights
from avatar_app.training.batches import augment_colours, step_batches, step_indices, step_views
from avatar_app.training.losses import LossWeights
from avatar_app.training.settings import TrainSettings
from avatar_app.training.synthetic import SyntheticDataset
from avatar_app.training.trainer import train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_data():
    train_set = SyntheticDataset(size=128, split="train", num_characters=1, seed=3)
    val_set = SyntheticDataset(size=128, split="val", num_characters=1, seed=3)
    # Two fixed samples: a short run can fit them, so "the loss goes down" is not luck.
    samples = [train_set[0], train_set[1]], [val_set[0]]
    train_set.close()
    val_set.close()
    return samples


def _settings(tmp_path, steps, **kw):
    base = dict(
        out=str(tmp_path / "run"),
        size=128,
        batch=2,
        steps=steps,
        lr=2e-3,
        warmup=2,
        max_views=2,
        val_samples=1,
        val_every=0,
        preview_every=0,
        checkpoint_every=5,
        seed=1,
    )
    base.update(kw)
    return TrainSettings(**base)


def _digest(model) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_short_run_lowers_the_loss_and_writes_what_the_app_loads(tmp_path, tiny_data):
    run = train(_settings(tmp_path, 40, preview_every=40, val_every=40), progress=False, datasets=tiny_data)
    first, last = sum(run.losses[:5]) / 5, sum(run.losses[-5:]) / 5
    assert last < 0.7 * first, f"loss {first:.4f} -> {last:.4f}"
    out = tmp_path / "run"
    assert json.loads((out / "weights" / "model.json").read_text()) == {"preset": "lite"}
    loaded = load_conr_weights(create_conr("lite", init=False), out / "weights")
    assert _digest(loaded) == _digest(run.model)
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,kind,loss") and len([r for r in rows if ",train," in r]) == 40
    val = [r for r in rows if ",val," in r]
    psnr_db, ssim_value, iou = (float(x) for x in val[0].split(",")[-3:]) if len(val) == 1 else (None,) * 3
    assert 5.0 < psnr_db < 100.0 and 0.0 < ssim_value <= 1.0 and 0.0 <= iou <= 1.0  # the held-out sample
    assert (out / "previews" / "step0000040.png").is_file()


def test_resumed_run_matches_an_uninterrupted_one(tmp_path, tiny_data):
    extras = dict(colour_augment=0.5, losses=LossWeights(flow=1.0))
    whole = train(_settings(tmp_path / "a", 10, **extras), progress=False, datasets=tiny_data)
    part = train(
        _settings(tmp_path / "b", 10, checkpoint_every=0, **extras), progress=False, datasets=tiny_data, until=5
    )
    assert part.step == 5
    rest = train(_settings(tmp_path / "b", 10, checkpoint_every=0, **extras), progress=False, datasets=tiny_data)
    assert rest.resumed_from == 5 and rest.step == 10
    for (k, a), b in zip(whole.model.state_dict().items(), rest.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=k)
    rows = (tmp_path / "b" / "run" / "log.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows if ",train," in r] == list(range(1, 11))  # appended, not restarted
    flow_column = rows[0].split(",").index("flow")
    assert all(float(r.split(",")[flow_column]) > 0 for r in rows[1:] if ",train," in r)  # the flow loss was on


def test_worker_processes_make_the_same_batches_as_the_main_process(tiny_data):
    s = TrainSettings(batch=2, max_views=2, seed=4, colour_augment=0.5)
    here = list(step_batches(tiny_data[0], s, 3, 6))
    spawned = list(step_batches(tiny_data[0], s, 3, 6, workers=2))
    assert [m for _, m in spawned] == [m for _, m in here]
    for (a, _), (b, _) in zip(here, spawned):
        assert a.keys() == b.keys()
        for k in a:
            if torch.is_tensor(a[k]):
                assert torch.equal(a[k], b[k]), k


def test_ranks_get_disjoint_samples_and_every_view_count_is_trained():
    s = TrainSettings(batch=3, max_views=4, seed=0)
    for step in range(4):
        r0, r1 = step_indices(s, step, 0, 2), step_indices(s, step, 1, 2)
        assert len(r0) == len(r1) == 3 and not set(r0) & set(r1)
    assert step_indices(s, 5, 1, 2, total=7) == [(5 * 6 + 3 + k) % 7 for k in range(3)]
    assert {step_views(s, step) for step in range(40)} == {1, 2, 3, 4}


def _colour_batch(n=6, m=2, s=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    alpha = (torch.rand(n, m, 1, s, s, generator=g) > 0.3).float()
    colours = torch.rand(n, 3, generator=g)  # one flat colour per sample, on sheet and target alike
    rgb = colours[:, None, :, None, None] * alpha
    target_alpha = (torch.rand(n, 1, s, s, generator=g) > 0.5).float()
    target = torch.cat([colours[:, :, None, None] * target_alpha, target_alpha], dim=1)
    return {
        "sheet_rgb": rgb,
        "sheet_alpha": alpha,
        "target_rgba": target,
        "target_udp": torch.rand(n, 4, s, s, generator=g),
    }


def test_colour_augmentation_remaps_sheet_and_target_alike_and_keeps_premultiplication():
    import random

    before = _colour_batch()
    after = augment_colours({k: v.clone() for k, v in before.items()}, 1.0, random.Random(5))
    for k in ("sheet_alpha", "target_udp"):
        assert torch.equal(after[k], before[k]), k
    assert torch.equal(after["target_rgba"][:, 3], before["target_rgba"][:, 3])
    changed = 0
    for i in range(6):
        on_sheet, on_target = before["sheet_alpha"][i, :, 0] > 0, before["target_rgba"][i, 3] > 0
        sheet_colour = after["sheet_rgb"][i].permute(0, 2, 3, 1)[on_sheet]  # [pixels, 3]
        target_colour = after["target_rgba"][i, :3].permute(1, 2, 0)[on_target]
        # the same colour map on every sheet pixel and on the target
        assert torch.allclose(sheet_colour, sheet_colour[:1].expand_as(sheet_colour))
        assert torch.allclose(target_colour, sheet_colour[:1].expand_as(target_colour))
        # a permutation with inversions of the original colour: a channel is c or 1 - c
        old = before["sheet_rgb"][i].permute(0, 2, 3, 1)[on_sheet][0]
        new = sheet_colour[0]
        assert all(any(torch.isclose(v, u) or torch.isclose(v, 1 - u) for u in old) for v in new)
        changed += not torch.allclose(new, old)
        assert float(after["sheet_rgb"][i].min()) >= 0.0
        assert torch.all(after["sheet_rgb"][i] <= before["sheet_alpha"][i] + 1e-6)  # still premultiplied
    assert changed >= 4  # identity map only when the shuffle keeps order and nothing inverts
    untouched = augment_colours({k: v.clone() for k, v in before.items()}, 0.0, random.Random(5))
    assert all(torch.equal(untouched[k], before[k]) for k in before)
    again = augment_colours({k: v.clone() for k, v in before.items()}, 1.0, random.Random(5))
    assert all(torch.equal(again[k], after[k]) for k in before)


DDP_SCRIPT = """
import hashlib, sys, torch, torch.distributed as dist
sys.path.insert(0, {repo!r})
from avatar_app.training.settings import TrainSettings
from avatar_app.training.trainer import train
dist.init_process_group("gloo")
s = TrainSettings(out={out!r}, size=128, batch=1, steps=3, warmup=1, max_views=2, train_characters=1, val_characters=1,
                  val_samples=1, val_every=0, preview_every=0, checkpoint_every=3)
run = train(s, progress=False)
h = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in run.model.parameters())).hexdigest()
open({out!r} + f"/rank{{dist.get_rank()}}.txt", "w").write(h)
dist.destroy_process_group()
"""


@pytest.mark.timeout(300)
def test_two_gloo_processes_keep_identical_weights(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT.format(repo=str(REPO), out=str(out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    h0, h1 = (out / "rank0.txt").read_text(), (out / "rank1.txt").read_text()
    assert h0 == h1
    assert json.loads(torch.load(out / "last.pt", weights_only=True)["meta"])["step"] == 3
