#!/usr/bin/env python3
"""Train a CoNR model (default: the ``lite`` preset) on synthetic characters or your own data.

    python tools/train.py --out runs/lite --steps 3000 --size 128          # CPU, synthetic characters
    python tools/train.py --out runs/lite --steps 4000 --size 256          # continue the same run at 256²
    python tools/train.py --out runs/gpu --size 256 --batch 32 --workers 14   # one GPU, batches made by 14 processes
    torchrun --nproc_per_node 2 tools/train.py --out runs/ddp ...          # DistributedDataParallel (gloo / NCCL)
    python tools/train.py --out runs/mine --data DATA --init assets/weights/lite   # fine-tune on a folder dataset

A run folder holds ``last.pt`` (resume point: re-running the command continues it;
``--restart`` starts over), ``log.csv`` (loss parts per step, validation PSNR / SSIM /
alpha IoU on held-out characters), ``previews/*.png`` (sheet | ground truth | output)
and ``weights/`` (the four ``.pth`` files plus ``model.json``: pass it to
``avatar-app render --weights``). See docs/training.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from avatar_app.core.errors import AvatarAppError
from avatar_app.models import PRESETS
from avatar_app.training.losses import LossWeights
from avatar_app.training.settings import TrainSettings
from avatar_app.training.trainer import train


def parse_args(argv=None) -> tuple[TrainSettings, argparse.Namespace]:
    d = TrainSettings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=d.out, help="run folder (default %(default)s)")
    p.add_argument("--preset", default=d.preset, choices=sorted(PRESETS))
    p.add_argument("--size", type=int, default=d.size, help="model size, a multiple of 128 (default %(default)s)")
    p.add_argument("--batch", type=int, default=d.batch, help="samples per step per process (default %(default)s)")
    p.add_argument("--steps", type=int, default=d.steps, help="total steps of the run (default %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--warmup", type=int, default=d.warmup)
    p.add_argument(
        "--max-views", type=int, default=d.max_views, help="each step uses 1..N sheet views (default %(default)s)"
    )
    p.add_argument("--train-characters", type=int, default=d.train_characters)
    p.add_argument("--val-characters", type=int, default=d.val_characters)
    p.add_argument("--val-samples", type=int, default=d.val_samples)
    p.add_argument("--val-every", type=int, default=d.val_every)
    p.add_argument("--preview-every", type=int, default=d.preview_every)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda:LOCAL_RANK if available, else cpu)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per process")
    p.add_argument("--data", default=None, help="folder dataset (docs/dataset.md) instead of synthetic characters")
    p.add_argument("--init", default=None, help="weights folder to start from (fine-tuning)")
    p.add_argument(
        "--flow-loss",
        type=float,
        default=d.losses.flow,
        help="weight of the flow loss against UDP correspondences (synthetic data; default %(default)s)",
    )
    p.add_argument(
        "--face-weight",
        type=float,
        default=d.losses.face,
        help="weight of the face's pixels in the colour loss (synthetic data, the rig's face region; "
        "default %(default)s)",
    )
    p.add_argument(
        "--colour-augment",
        type=float,
        default=d.colour_augment,
        help="share of samples whose colours are permuted/inverted, sheet and target alike (default %(default)s)",
    )
    p.add_argument(
        "--family",
        default=d.family,
        choices=("toon", "drawn", "mix"),
        help="synthetic characters: toon (the shipped weights' data), drawn (line art, cel shading, "
        "anime faces, drawing-like augmentations) or mix (both in every batch; default %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="make the batches in N background processes (same batches; for a GPU that outruns one core)",
    )
    p.add_argument("--until", type=int, default=None, help="stop at this step of the --steps schedule (continue later)")
    p.add_argument("--restart", action="store_true", help="ignore OUT/last.pt and start over")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    device = a.device or (f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    s = TrainSettings(
        out=a.out,
        preset=a.preset,
        size=a.size,
        batch=a.batch,
        steps=a.steps,
        lr=a.lr,
        warmup=a.warmup,
        max_views=a.max_views,
        train_characters=a.train_characters,
        val_characters=a.val_characters,
        val_samples=a.val_samples,
        val_every=a.val_every,
        preview_every=a.preview_every,
        checkpoint_every=a.checkpoint_every,
        seed=a.seed,
        device=device,
        data=a.data,
        init=a.init,
        colour_augment=a.colour_augment,
        family=a.family,
        losses=LossWeights(flow=a.flow_loss, face=a.face_weight),
    )
    return s, a


def main(argv=None) -> int:
    s, a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.threads:
        torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist

        backend = "nccl" if s.device.startswith("cuda") else "gloo"
        if s.device.startswith("cuda"):
            torch.cuda.set_device(torch.device(s.device))
        dist.init_process_group(backend)
    try:
        run = train(s, resume=not a.restart, progress=not a.no_progress, until=a.until, workers=a.workers)
    except AvatarAppError as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        tail = run.losses[-min(20, len(run.losses)) :] if run.losses else []
        mean = sum(tail) / len(tail) if tail else float("nan")
        print(f"step {run.step} (resumed from {run.resumed_from}); mean loss of the last {len(tail)} steps {mean:.4f}")
        if run.val:
            print("validation (held-out): " + ", ".join(f"{k} {v:.3f}" for k, v in run.val.items()))
        print(f"weights: {Path(s.out) / 'weights'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
