"""What CoNR's internal size costs in quality: held-out drawn characters at an output size, scored
against their truth with the network at the output size and at smaller internal sizes, the drawn
detail on in every case (the app's own path: ``infer.resample`` and ``infer.drawn_detail``).

    python tools/evaluate_internal_size.py [--weights assets/weights/lite] [--size 512]
        [--internal 128,256] [--views 1] [--samples 12] [--threads 2] [--json out/internal_size.json]

Prints PSNR overall and on the face (where the sample's face is seen) per internal size, and the
difference to the network at the output size; per-sample scores go to the JSON file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np
import torch

from avatar_app.core.errors import AvatarAppError
from avatar_app.core.frames import RgbaFrame, UdpMap
from avatar_app.infer.drawn_detail import DrawnDetail
from avatar_app.infer.resample import check_sizes, grow_frame, shrink_udp
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder
from avatar_app.infer.udp_grid import DEFAULT_CELLS
from avatar_app.models import CoNR, load_weights_folder
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS
from avatar_app.training.drawn_family import face_mask
from avatar_app.training.evaluation import MIN_FACE_PIXELS, _image_scores, select_views
from avatar_app.training.synthetic import SyntheticDataset


def _shrink_sheet(rgb: np.ndarray, alpha: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied sheet views [V,C,S,S] uint8 at ``size`` (INTER_AREA, as io.sheet shrinks a drawing)."""
    if rgb.shape[-1] == size:
        return rgb, alpha
    rgba = np.concatenate([rgb, alpha], 1).transpose(0, 2, 3, 1)
    small = np.stack([cv2.resize(v, (size, size), interpolation=cv2.INTER_AREA) for v in rgba]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(small[:, :3]), np.ascontiguousarray(small[:, 3:4])


@torch.no_grad()
def score_sample(sample, encoder, renderer, internal_sizes) -> dict:
    size = sample.target_udp.shape[-1]
    target = torch.from_numpy(sample.target_rgba)
    face = None
    if sample.meta.get("face_region"):
        mask = face_mask(sample.target_udp, sample.meta["face_region"])
        face = torch.from_numpy(mask) if mask.sum() >= MIN_FACE_PIXELS else None
    detail = DrawnDetail(sample.sheet_rgb, sample.sheet_alpha, sample.sheet_udp, grid_cells=max(DEFAULT_CELLS, size))
    udp = UdpMap(np.ascontiguousarray(sample.target_udp.transpose(1, 2, 0)))
    row = {"character": sample.character}
    for internal in internal_sizes:
        rgb, alpha = _shrink_sheet(sample.sheet_rgb, sample.sheet_alpha, internal)
        state = encoder.encode_tensors(torch.from_numpy(rgb).float() / 255.0, torch.from_numpy(alpha).float() / 255.0)
        small = torch.from_numpy(shrink_udp(udp, internal).data.transpose(2, 0, 1).copy())
        rendered = renderer.render_tensor(state, CoNR.target_input(small[None, :3], small[None, 3:4]))[0].cpu()
        frame = grow_frame(RgbaFrame(np.ascontiguousarray(rendered.permute(1, 2, 0).numpy()), 0.0), size)
        shown = detail.apply(frame.data, udp.data)
        row[str(internal)] = _image_scores(torch.from_numpy(shown.transpose(2, 0, 1).copy()), target, face)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--size", type=int, default=512, help="the output size (default 512)")
    p.add_argument("--internal", default="128,256", help="internal sizes to compare with --size (default 128,256)")
    p.add_argument("--views", type=int, default=1, help="sheet views per sample (default 1)")
    p.add_argument("--samples", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=Path("out/internal_size.json"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        sizes = sorted({check_sizes(args.size, int(v))[1] for v in args.internal.split(",") if v} | {args.size})
        model = load_weights_folder(args.weights)
        encoder, renderer = SheetEncoder(model, "cpu"), FrameRenderer(model, "cpu")
        rows = []
        t0 = time.perf_counter()
        with SyntheticDataset(size=args.size, split="val", seed=args.seed, views=4, family="drawn") as dataset:
            for i in range(min(args.samples, len(dataset))):
                sample = select_views(dataset[i], args.views)
                if sample.sheet_udp is None:
                    continue
                rows.append(score_sample(sample, encoder, renderer, sizes))
                print(f"sample {i}: " + ", ".join(f"{s}² {rows[-1][str(s)]['psnr']:.2f} dB" for s in sizes), flush=True)
    except AvatarAppError as exc:
        print(f"evaluate_internal_size: error: {exc}", file=sys.stderr)
        return 2

    def mean(key: str, size: int) -> float:
        values = [r[str(size)][key] for r in rows if key in r[str(size)] and not math.isnan(r[str(size)][key])]
        return float(np.mean(values)) if values else math.nan

    faces = sum("face_psnr" in r[str(args.size)] for r in rows)
    print(
        f"\n{args.weights}, {len(rows)} drawn held-out samples ({faces} with a face), output {args.size}², "
        f"{args.views} view(s), drawn detail on, {time.perf_counter() - t0:.0f} s"
    )
    print("| CoNR at | PSNR (dB) | vs full size | face PSNR (dB) | vs full size | SSIM | alpha IoU |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    full, full_face = mean("psnr", args.size), mean("face_psnr", args.size)
    summary = {}
    for s in sorted(sizes, reverse=True):
        summary[s] = {k: mean(k, s) for k in ("psnr", "face_psnr", "ssim", "alpha_iou")}
        m = summary[s]
        print(
            f"| {s}² | {m['psnr']:.2f} | {m['psnr'] - full:+.2f} | {m['face_psnr']:.2f} | "
            f"{m['face_psnr'] - full_face:+.2f} | {m['ssim']:.4f} | {m['alpha_iou']:.4f} |"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"weights": str(args.weights), "size": args.size, "views": args.views, "seed": args.seed}
    args.json.write_text(json.dumps({"meta": meta, "summary": summary, "per_sample": rows}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
