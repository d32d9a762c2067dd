"""Training CoNR (any preset) on Samples: validation, previews, checkpoints, the loop.

``tools/train.py`` is the command line around :func:`train`. One process or many
(``torchrun``: DistributedDataParallel, gloo on CPU, NCCL on CUDA); rank 0 alone
writes the log, previews and checkpoints. Everything a run needs to continue is in
``RUN/last.pt`` (model, optimiser, step, settings); ``RUN/weights/`` is the
four-file export the app loads (plus ``model.json``).

The run's definition is :class:`~avatar_app.training.settings.TrainSettings`, what each
step minimises is in ``losses.py``, and the batch of every step comes from ``batches.py``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from avatar_app.core.errors import CheckpointError
from avatar_app.models import CoNR, create_conr, load_weights_folder, save_weights_folder
from avatar_app.training.batches import make_datasets, step_batches, to_device
from avatar_app.training.collate import collate
from avatar_app.training.losses import LOSS_NAMES, TrainingForward, compute_losses, prepare_from_scratch
from avatar_app.training.metrics import alpha_iou, psnr, ssim
from avatar_app.training.resume_file import load_resume_file, save_resume_file
from avatar_app.training.settings import TrainSettings

log = logging.getLogger(__name__)

__all__ = ["Run", "export_weights", "train", "validate"]


# --------------------------------------------------------------------------- validation


@torch.no_grad()
def validate(model: CoNR, dataset, samples: int, views: int, device) -> dict:
    """Mean PSNR / SSIM / alpha IoU of the model over the first ``samples`` items."""
    model.eval()
    scores = {"psnr": [], "ssim": [], "alpha_iou": []}
    for i in range(min(samples, len(dataset))):
        b = to_device(collate([dataset[i]], views=views), device)
        target = CoNR.target_input(b["target_udp"][:, :3], b["target_udp"][:, 3:4])
        pred = model(b["sheet_rgb"], b["sheet_alpha"], target)
        gt = b["target_rgba"]
        scores["psnr"].append(float(psnr(pred, gt).clamp(max=100.0)[0]))
        scores["ssim"].append(float(ssim(pred, gt)[0]))
        scores["alpha_iou"].append(float(alpha_iou(pred, gt)[0]))
    model.train()
    return {k: float(np.mean(v)) for k, v in scores.items()}


def preview_grid(batch: dict, pred: torch.Tensor, path: Path, rows: int = 4) -> None:
    """PNG: per row the sheet views, the ground truth and the prediction, over grey."""

    def over_grey(x: torch.Tensor) -> np.ndarray:  # premultiplied [4,H,W] -> RGB uint8 [H,W,3]
        rgb = x[:3] + 0.5 * (1.0 - x[3:4])
        return (rgb.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

    lines = []
    n = min(rows, pred.shape[0])
    for i in range(n):
        views = [
            over_grey(torch.cat([batch["sheet_rgb"][i, v], batch["sheet_alpha"][i, v]]))
            for v in range(batch["sheet_rgb"].shape[1])
        ]
        lines.append(np.concatenate(views + [over_grey(batch["target_rgba"][i]), over_grey(pred[i].detach())], axis=1))
    grid = np.concatenate(lines, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


# --------------------------------------------------------------------------- checkpoints


def export_weights(model: CoNR, folder: str | Path) -> None:
    """The four-file layout the app loads, plus ``model.json`` naming the preset."""
    save_weights_folder(model, folder)


_CHECKPOINT_FIX = "delete it (or run tools/train.py with --restart) to start the run over"


def _save_checkpoint(path: Path, model: CoNR, opt, step: int, s: TrainSettings, elapsed: float) -> None:
    tensors = {"model": model.state_dict(), "optimizer": opt.state_dict()}
    meta = {"step": step, "settings": asdict(s), "elapsed": elapsed}
    save_resume_file(path, "training checkpoint", tensors, meta)  # never a half-written checkpoint


def _load_checkpoint(path: Path) -> dict:
    """Data only: a last.pt from someone else's run folder cannot run code (resume_file)."""
    tensors, meta = load_resume_file(path, "training checkpoint", ("model", "optimizer"), _CHECKPOINT_FIX)
    if not isinstance(meta.get("step"), int) or not isinstance(meta.get("settings"), dict):
        found = f"step {meta.get('step')!r}, settings of type {type(meta.get('settings')).__name__}"
        raise CheckpointError(path, "a whole step count and a settings object", found, _CHECKPOINT_FIX)
    try:
        TrainSettings.from_dict(meta["settings"])
    except TypeError as exc:  # keys this version does not know (or lacks)
        raise CheckpointError(path, "the settings of a run of this version", str(exc), _CHECKPOINT_FIX) from exc
    return {**meta, **tensors}


# --------------------------------------------------------------------------- loop


@dataclass
class Run:
    """What :func:`train` returns: the trained model (rank 0) and the loss history."""

    model: CoNR
    losses: list[float]
    step: int
    resumed_from: int
    val: dict


def _lr(s: TrainSettings, step: int) -> float:
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    t = (step - s.warmup) / max(1, s.steps - s.warmup)
    return s.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0))))


def _distributed() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(
    s: TrainSettings,
    *,
    resume: bool = True,
    progress: bool = True,
    datasets=None,
    until: int | None = None,
    workers: int = 0,
) -> Run:
    """Train (or continue) the run in ``s.out``; call once per process (torchrun: every rank).

    ``until`` stops (with a checkpoint) at that step of the ``s.steps`` schedule, so a
    later call continues exactly where this one stopped. ``workers`` > 0 makes the
    batches in that many background processes (the same batches, see :func:`step_batches`).
    """
    rank, world = _distributed()
    out = Path(s.out)
    ckpt_path = out / "last.pt"
    device = torch.device(s.device)
    ckpt = _load_checkpoint(ckpt_path) if resume and ckpt_path.is_file() else None
    if ckpt is not None:
        saved = TrainSettings.from_dict(ckpt["settings"])
        # The run's identity comes from the checkpoint; only the length and cadence may change.
        keep = ("steps", "val_every", "preview_every", "checkpoint_every", "device", "size")
        s = TrainSettings(**{**asdict(saved), "losses": saved.losses, **{k: getattr(s, k) for k in keep}})
    torch.manual_seed(s.seed)
    model = create_conr(s.preset, init=True)
    if s.init and ckpt is None:
        model.load_state_dict(load_weights_folder(s.init, s.preset).state_dict())
    elif ckpt is None:
        prepare_from_scratch(model)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
    model = model.to(device).train().requires_grad_(True)
    # Rendering reads only the pose encoder's pyramid: its U-Net head gets no gradient (and
    # DDP insists that every trainable parameter does).
    for head in (model.target_pose_encoder.upsample_blocks, model.target_pose_encoder.final_conv):
        head.requires_grad_(False)
    forward = TrainingForward(model)
    if world > 1:
        device_ids = [device.index] if device.type == "cuda" else None
        forward = nn.parallel.DistributedDataParallel(forward, device_ids=device_ids)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s.lr, weight_decay=1e-4)
    start, elapsed0 = 0, 0.0
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        start, elapsed0 = int(ckpt["step"]), float(ckpt.get("elapsed", 0.0))
    train_set, val_set = datasets if datasets is not None else make_datasets(s)

    writer = None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "settings.json").write_text(json.dumps(asdict(s), indent=2) + "\n")
        new_log = not (out / "log.csv").is_file() or start == 0
        log_file = open(out / "log.csv", "w" if new_log else "a", newline="")
        writer = csv.writer(log_file)
        if new_log:
            writer.writerow(
                [
                    "step",
                    "kind",
                    "loss",
                    *LOSS_NAMES,
                    "lr",
                    "views",
                    "elapsed_s",
                    "samples_per_s",
                    "val_psnr",
                    "val_ssim",
                    "val_alpha_iou",
                ]
            )

    end = min(s.steps, until) if until is not None else s.steps
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=end, initial=start, desc="train", unit="step", dynamic_ncols=True)
    losses, val = [], {}
    t0 = time.perf_counter()
    step = start
    batches = step_batches(train_set, s, start, end, rank, world, workers, pin=device.type == "cuda")
    try:
        for step in range(start, end):
            for g in opt.param_groups:
                g["lr"] = _lr(s, step)
            batch, m = next(batches)
            batch = to_device(batch, device)
            loss, parts, pred = compute_losses(forward, batch, s.losses)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {float(loss.detach())} at step {step}: lower --lr or check the data"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            opt.step()
            losses.append(float(loss.detach()))
            done = step + 1
            elapsed = elapsed0 + time.perf_counter() - t0
            if rank == 0:
                rate = (done - start) * s.batch * world / max(time.perf_counter() - t0, 1e-9)
                loss_parts = (f"{parts.get(k, float('nan')):.5f}" for k in LOSS_NAMES)
                writer.writerow(
                    [
                        done,
                        "train",
                        f"{float(loss.detach()):.5f}",
                        *loss_parts,
                        f"{_lr(s, step):.2e}",
                        m,
                        f"{elapsed:.1f}",
                        f"{rate:.2f}",
                        "",
                        "",
                        "",
                    ]
                )
                if bar is not None:
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}", views=m)
                    bar.update(1)
                if s.preview_every and done % s.preview_every == 0:
                    preview_grid(batch, pred, out / "previews" / f"step{done:07d}.png")
                if (s.val_every and done % s.val_every == 0) or done == s.steps:
                    val = validate(model, val_set, s.val_samples, min(4, s.max_views), device)
                    scores = (f"{val['psnr']:.3f}", f"{val['ssim']:.4f}", f"{val['alpha_iou']:.4f}")
                    writer.writerow([done, "val", *[""] * (len(LOSS_NAMES) + 5), *scores])
                    log.info("step %d: val %s", done, val)
                if (s.checkpoint_every and done % s.checkpoint_every == 0) or done == end:
                    _save_checkpoint(ckpt_path, model, opt, done, s, elapsed)
                    export_weights(model, out / "weights")
                log_file.flush()
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            log_file.close()
    return Run(model.eval(), losses, max(end, start), start, val)
