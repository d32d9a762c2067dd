"""Training CoNR (any preset) on Samples: losses, one step, validation, checkpoints, the loop.

``tools/train.py`` is the command line around :func:`train`. One process or many
(``torchrun``: DistributedDataParallel, gloo on CPU, NCCL on CUDA); rank 0 alone
writes the log, previews and checkpoints. Everything a run needs to continue is in
``RUN/last.pt`` (model, optimiser, step, settings); ``RUN/weights/`` is the
four-file export the app loads (plus ``model.json``).

The losses need no downloaded network:

* binary cross-entropy on the alpha *logits* and L1 on the premultiplied colour inside
  the target silhouette. (L1 on the sigmoid outputs, where ~90% of the pixels are
  background, drives the unnormalised shader to ever larger activations until the
  sigmoid saturates at alpha 0 and no gradient is left - within 20 steps at lr 1e-3
  or 1e-4. Cross-entropy on the logits keeps pulling the silhouette up.)
* 1 - SSIM and a multi-scale gradient L1 on the premultiplied RGBA (edges, thin strands);
* the sheet parser's U-Net predicting each sheet view's UDP (what gives the parser
  features their meaning in CoNR), and the same U-Net predicting the target image's
  UDP: the image -> UDP detector.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Subset

from avatar_app.core.errors import CheckpointError, SettingError
from avatar_app.models import (
    CoNR,
    create_conr,
    load_weights_folder,
    save_weights_folder,
)
from avatar_app.training.collate import collate
from avatar_app.training.flow_targets import correspondence_flow, flow_loss
from avatar_app.training.metrics import alpha_iou, gradient_loss, psnr, ssim

log = logging.getLogger(__name__)

__all__ = ["LossWeights", "Run", "TrainSettings", "TrainingForward", "compute_losses", "export_weights", "train", "validate"]


@dataclass
class LossWeights:
    rgb: float = 1.0
    alpha: float = 1.0
    ssim: float = 0.2
    gradient: float = 0.25
    sheet_udp: float = 0.5
    detector: float = 0.5
    flow: float = 0.0  # the shader's flows against UDP correspondences (flow_targets.py); needs sheet UDP


LOSS_NAMES = tuple(f.name for f in fields(LossWeights))  # the loss terms, in log.csv's column order


@dataclass
class TrainSettings:
    """Everything that defines a run (saved in the checkpoint; a resumed run keeps it)."""

    out: str = "runs/lite"
    preset: str = "lite"
    size: int = 128
    batch: int = 4
    steps: int = 1000
    lr: float = 1e-3
    warmup: int = 50
    max_views: int = 4
    train_characters: int = 48
    val_characters: int = 8
    val_samples: int = 16
    val_every: int = 250
    preview_every: int = 250
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "cpu"
    data: str | None = None  # a folder dataset (docs/dataset.md) instead of synthetic characters
    init: str | None = None  # start from this weights folder (fine-tuning)
    colour_augment: float = 0.0  # share of samples whose colours are remapped (augment_colours)
    losses: LossWeights = field(default_factory=LossWeights)

    @staticmethod
    def from_dict(d: dict) -> TrainSettings:
        d = dict(d)
        d["losses"] = LossWeights(**d.get("losses", {}))
        return TrainSettings(**d)


# --------------------------------------------------------------------------- losses


def _udp_target(udp: torch.Tensor) -> torch.Tensor:
    """``[..., 4, H, W]`` xyz + mask -> what the parser head predicts: ``(xyz * mask, mask)``."""
    return torch.cat([udp[..., :3, :, :] * udp[..., 3:4, :, :], udp[..., 3:4, :, :]], dim=-3)


class TrainingForward(nn.Module):
    """CoNR's forward plus the parser's UDP head, as one module (what DDP wraps).

    The sheet views and the target images share one parser pass: the views' features
    feed the renderer, and the U-Net head decodes every image into UDP (sheet views:
    the parser's own supervision; target images: the image -> UDP detector). The
    alpha logits (before the RGBA decoder's sigmoid) come back too, for the loss.
    """

    def __init__(self, conr: CoNR):
        super().__init__()
        self.conr = conr
        self._logits: list[torch.Tensor] = []
        conr.rgbadecodernet.conv_rgba[0].register_forward_hook(lambda _m, _i, out: self._logits.append(out))

    def forward(self, rgb, alpha, target_udp, target_rgb, flows: list | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, m, _, h, w = rgb.shape
        parser = self.conr.udpparsernet
        feats = parser.forward_features(CoNR.normalise(torch.cat([rgb.reshape(n * m, 3, h, w), target_rgb], dim=0)))
        udp_pred = parser.decode(feats)
        target = CoNR.target_input(target_udp[:, :3], target_udp[:, 3:4])
        self._logits.clear()
        pred = self.conr(rgb, alpha, target, sheet_features=[f[: n * m] for f in feats], flows=flows)
        return pred, udp_pred, self._logits.pop()[:, 3:4]


def prepare_from_scratch(model: CoNR) -> CoNR:
    """Start every shader block at "no flow, no message" (its last transposed conv zeroed).

    With random last layers the first steps already warp by random flows and the
    unnormalised blocks amplify each other; zeroed, the blocks start neutral and the
    gradient still reaches those layers through their (non-zero) inputs.
    """
    with torch.no_grad():
        for block in model.shader.decoder_blocks:
            last = block.conv_last[-1]
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
    return model


def compute_losses(forward: nn.Module, batch: dict, weights: LossWeights) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """Run a :class:`TrainingForward` (or its DDP wrapper) on a collated batch.

    Returns (total loss, {name: float}, predicted RGBA).
    """
    rgb, alpha = batch["sheet_rgb"], batch["sheet_alpha"]
    n, m, _, h, w = rgb.shape
    target_udp, gt = batch["target_udp"], batch["target_rgba"]
    flows = [] if weights.flow and batch.get("sheet_udp") is not None else None
    pred, udp_pred, alpha_logits = forward(rgb, alpha, target_udp, gt[:, :3], flows)

    gt_alpha = gt[:, 3:4]
    parts = {}
    parts["rgb"] = ((pred[:, :3] - gt[:, :3]).abs() * gt_alpha).sum() / (3.0 * gt_alpha.sum() + 1.0)
    parts["alpha"] = F.binary_cross_entropy_with_logits(alpha_logits, gt_alpha)
    parts["ssim"] = 1.0 - ssim(pred, gt).mean()
    parts["gradient"] = gradient_loss(pred, gt)
    if batch.get("sheet_udp") is not None:
        parts["sheet_udp"] = F.l1_loss(udp_pred[: n * m], _udp_target(batch["sheet_udp"].reshape(n * m, 4, h, w)))
    parts["detector"] = F.l1_loss(udp_pred[n * m :], _udp_target(target_udp))
    if flows is not None:
        targets = batch.get("flow_targets") or correspondence_flow(batch["sheet_udp"], target_udp)
        parts["flow"] = flow_loss(flows, *(t.to(flows[0].device) for t in targets))
    total = sum(getattr(weights, k) * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}, pred


# --------------------------------------------------------------------------- data


def make_datasets(s: TrainSettings):
    """(train, val) datasets: synthetic characters (held-out val characters), or a folder."""
    if s.data:
        from avatar_app.training.folder_dataset import FolderDataset

        full = FolderDataset(s.data, size=s.size)
        if len(full) < 2:
            raise SettingError("--data", "a folder dataset with at least 2 samples", f"{len(full)} in {s.data}", "add samples (docs/dataset.md)")
        n_val = max(1, min(s.val_samples, len(full) // 10))
        idx = list(range(len(full)))
        return Subset(full, idx[n_val:]), Subset(full, idx[:n_val])
    from avatar_app.training.synthetic import SyntheticDataset

    train = SyntheticDataset(size=s.size, split="train", num_characters=s.train_characters, seed=s.seed)
    val = SyntheticDataset(size=s.size, split="val", num_characters=s.val_characters, seed=s.seed)
    return train, val


def _step_rng(seed: int, step: int) -> random.Random:
    return random.Random(seed * 1_000_003 + step)


def step_indices(s: TrainSettings, step: int, rank: int = 0, world: int = 1, total: int | None = None) -> list[int]:
    """Dataset indices of ``step`` on ``rank``: consecutive, disjoint across ranks, wrapping at ``total``."""
    first = step * s.batch * world + rank * s.batch
    return [(first + k) % total if total else first + k for k in range(s.batch)]


def step_views(s: TrainSettings, step: int) -> int:
    """Sheet views used at ``step``: 1..max_views, drawn from the step number (equal on every rank)."""
    return _step_rng(s.seed, step).randint(1, s.max_views)


def augment_colours(batch: dict, share: float, rng: random.Random) -> dict:
    """Remap the colours of about ``share`` of the samples, sheet and target alike (in place).

    Per chosen sample: a random permutation of R, G, B, and each channel inverted
    (``a - c`` on premultiplied values, which stays premultiplied) with probability 1/4.
    A character's colours then cannot be guessed from its pose or its body part: the
    network has to carry them over from the sheet, which is what it is for.
    """
    if share <= 0.0:
        return batch
    for i in range(batch["target_rgba"].shape[0]):
        if rng.random() >= share:
            continue
        order = [0, 1, 2]
        rng.shuffle(order)
        invert = [rng.random() < 0.25 for _ in range(3)]
        for rgb, alpha in ((batch["sheet_rgb"][i], batch["sheet_alpha"][i]), (batch["target_rgba"][i, :3], batch["target_rgba"][i, 3:4])):
            mapped = rgb[..., order, :, :].clone()
            for c in range(3):
                if invert[c]:
                    mapped[..., c, :, :] = alpha[..., 0, :, :] - mapped[..., c, :, :]
            rgb.copy_(mapped.clamp_(min=0.0))
    return batch


def batch_for_step(dataset, s: TrainSettings, step: int, rank: int = 0, world: int = 1) -> tuple[dict, int]:
    """The collated samples of ``step`` for this rank (colours augmented) and their view count.

    With the flow loss on, the batch carries its ``flow_targets`` too: their nearest-neighbour
    searches run on the CPU, so they are made with the batch (in the data workers, if any).
    """
    m = step_views(s, step)
    batch = collate([dataset[i] for i in step_indices(s, step, rank, world, len(dataset))], views=m)
    if s.losses.flow and "sheet_udp" in batch:
        batch["flow_targets"] = correspondence_flow(batch["sheet_udp"], batch["target_udp"])
    return augment_colours(batch, s.colour_augment, _step_rng(s.seed + 7919 * (rank + 1), step)), m


def _to(batch: dict, device) -> dict:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


class _StepBatches(torch.utils.data.Dataset):
    """Item ``k``: what :func:`batch_for_step` gives for step ``start + k`` (for DataLoader workers)."""

    def __init__(self, dataset, s: TrainSettings, start: int, end: int, rank: int, world: int):
        self.dataset, self.s, self.start, self.end, self.rank, self.world = dataset, s, start, end, rank, world

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, k: int) -> tuple[dict, int]:
        return batch_for_step(self.dataset, self.s, self.start + k, self.rank, self.world)


def step_batches(dataset, s: TrainSettings, start: int, end: int, rank: int = 0, world: int = 1, workers: int = 0, pin: bool = False):
    """The batches of steps ``start..end-1`` in order, made here or by ``workers`` processes.

    Every batch depends on ``(seed, step, rank)`` alone, so the workers change the speed,
    never the batches. They are spawned, not forked: a process that has rendered with
    Mesa cannot be forked safely (``synthetic.py``), and validation renders here.
    """
    if workers <= 0:
        return (batch_for_step(dataset, s, step, rank, world) for step in range(start, end))
    loader = torch.utils.data.DataLoader(
        _StepBatches(dataset, s, start, end, rank, world), batch_size=None, shuffle=False, num_workers=workers,
        multiprocessing_context="spawn", prefetch_factor=2, pin_memory=pin,
    )
    return iter(loader)


# --------------------------------------------------------------------------- validation


@torch.no_grad()
def validate(model: CoNR, dataset, samples: int, views: int, device) -> dict:
    """Mean PSNR / SSIM / alpha IoU of the model over the first ``samples`` items."""
    model.eval()
    scores = {"psnr": [], "ssim": [], "alpha_iou": []}
    for i in range(min(samples, len(dataset))):
        b = _to(collate([dataset[i]], views=views), device)
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
        views = [over_grey(torch.cat([batch["sheet_rgb"][i, v], batch["sheet_alpha"][i, v]])) for v in range(batch["sheet_rgb"].shape[1])]
        lines.append(np.concatenate(views + [over_grey(batch["target_rgba"][i]), over_grey(pred[i].detach())], axis=1))
    grid = np.concatenate(lines, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


# --------------------------------------------------------------------------- checkpoints


def export_weights(model: CoNR, folder: str | Path) -> None:
    """The four-file layout the app loads, plus ``model.json`` naming the preset."""
    save_weights_folder(model, folder)


def _save_checkpoint(path: Path, model: CoNR, opt, step: int, s: TrainSettings, elapsed: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "settings": asdict(s), "elapsed": elapsed},
        tmp,
    )
    os.replace(tmp, path)  # never a half-written checkpoint


def _load_checkpoint(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(path, "a training checkpoint written by tools/train.py", f"unreadable ({e})", "delete it to start over") from e
    if not isinstance(ckpt, dict) or not {"model", "optimizer", "step", "settings"} <= set(ckpt):
        raise CheckpointError(path, "keys model, optimizer, step, settings", f"{sorted(ckpt)[:6] if isinstance(ckpt, dict) else type(ckpt).__name__}", "delete it to start over")
    return ckpt


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
    s: TrainSettings, *, resume: bool = True, progress: bool = True, datasets=None, until: int | None = None, workers: int = 0,
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
        s = TrainSettings(**{**asdict(saved), "losses": saved.losses, "steps": s.steps, "val_every": s.val_every,
                             "preview_every": s.preview_every, "checkpoint_every": s.checkpoint_every, "device": s.device,
                             "size": s.size})  # fmt: skip
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
        forward = nn.parallel.DistributedDataParallel(forward, device_ids=[device.index] if device.type == "cuda" else None)
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
            writer.writerow(["step", "kind", "loss", *LOSS_NAMES, "lr", "views", "elapsed_s", "samples_per_s",
                             "val_psnr", "val_ssim", "val_alpha_iou"])  # fmt: skip

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
            batch = _to(batch, device)
            loss, parts, pred = compute_losses(forward, batch, s.losses)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {float(loss.detach())} at step {step}: lower --lr or check the data")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            opt.step()
            losses.append(float(loss.detach()))
            done = step + 1
            elapsed = elapsed0 + time.perf_counter() - t0
            if rank == 0:
                rate = (done - start) * s.batch * world / max(time.perf_counter() - t0, 1e-9)
                writer.writerow([done, "train", f"{float(loss.detach()):.5f}", *(f"{parts.get(k, float('nan')):.5f}" for k in
                                 LOSS_NAMES), f"{_lr(s, step):.2e}", m,
                                 f"{elapsed:.1f}", f"{rate:.2f}", "", "", ""])  # fmt: skip
                if bar is not None:
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}", views=m)
                    bar.update(1)
                if s.preview_every and done % s.preview_every == 0:
                    preview_grid(batch, pred, out / "previews" / f"step{done:07d}.png")
                if (s.val_every and done % s.val_every == 0) or done == s.steps:
                    val = validate(model, val_set, s.val_samples, min(4, s.max_views), device)
                    writer.writerow([done, "val", *[""] * (len(LOSS_NAMES) + 5), f"{val['psnr']:.3f}", f"{val['ssim']:.4f}", f"{val['alpha_iou']:.4f}"])
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
