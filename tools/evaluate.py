"""Score trained CoNR weights on held-out synthetic characters against two baselines.

    python tools/evaluate.py WEIGHTS [--size 256] [--views 4] [--samples 64] [--seed 0]
                             [--family toon|drawn] [--json out/evaluate.json] [--threads N] [--device cpu]
    python tools/evaluate.py WEIGHTS --adapt 5,15,30 [--characters 2] [--samples 12] [--family toon|drawn]

WEIGHTS is a folder with the four ``.pth`` files and, for a preset other than
``official``, ``model.json`` (``{"preset": "lite"}``). Renders the validation split
of the synthetic dataset with the app's own inference path and prints a markdown
table of PSNR / SSIM / alpha IoU for the model, the nearest-view paste and the
UDP lookup baselines, the UDP detector's error, and the model's PSNR gain over
the nearest-view paste; everything (per sample too) goes to the JSON file.
``--family`` picks the held-out set: ``toon`` (the default; the set of the shipped weights'
model card, 26.72 dB) or ``drawn`` (held-out characters of the drawn family, framed like
real drawings: mostly cut knee-, waist- or bust-up, sheets drawn from a variant of the body
and worn like files of drawings; see ``avatar_app/training/drawn_family.py``).
``--adapt`` is the adaptation mode (``avatar_app/training/adapt_eval.py``): held-out characters
presented like drawings (one view), scored in new poses before and after ``adapt`` for the
given minutes, with and without the drawn-detail pass, beside the UDP lookup from the sheet UDP.
Exit status 0, or 2 with a one-line message for unusable weights or settings.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from avatar_app.core.errors import AvatarAppError, SettingError
from avatar_app.models import load_weights_folder
from avatar_app.training.evaluation import evaluate
from avatar_app.training.synthetic import SyntheticDataset

METHOD_LABELS = {
    "model": "model ({preset})",
    "model_views": "model ({preset}), views chosen per frame",
    "nearest_view": "nearest-view paste",
    "udp_lookup": "UDP lookup",
}


def _cell(value: float, fmt: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, fmt)


def format_report(result: dict) -> str:
    """The markdown tables printed by the tool."""
    faces = any("face_psnr" in scores for scores in result["methods"].values())
    lines = ["| method | PSNR (dB) | SSIM | alpha IoU |" + (" face PSNR (dB) |" if faces else "")]
    lines.append("|---|---:|---:|---:|" + ("---:|" if faces else ""))
    for method, scores in result["methods"].items():
        label = METHOD_LABELS[method].format(preset=result["preset"])
        face = f" {_cell(scores.get('face_psnr'), '.2f')} |" if faces else ""
        lines.append(
            f"| {label} | {_cell(scores['psnr'], '.2f')} | {_cell(scores['ssim'], '.4f')} | "
            f"{_cell(scores['alpha_iou'], '.4f')} |{face}"
        )
    det, ref = result["detector"], result["detector_reference"]
    lines += [
        "",
        "| UDP from the target picture | xyz L1 (visible) | mask IoU |",
        "|---|---:|---:|",
        f"| UDP detector | {_cell(det['xyz_l1'], '.4f')} | {_cell(det['mask_iou'], '.4f')} |",
        f"| constant: each target's mean xyz (reference) | {_cell(ref['xyz_l1'], '.4f')} | - |",
        "",
        f"PSNR gain of the model over the nearest-view paste: {result['psnr_gain_over_nearest_view_db']:+.2f} dB",
    ]
    flow = result.get("flow") or {}
    if not math.isnan(flow.get("epe_px", math.nan)):
        lines.append(
            f"Shader flow vs UDP correspondences: {flow['epe_px']:.2f} px mean end-point error "
            f"(no flow at all: {flow['zero_flow_epe_px']:.2f} px)"
        )
    return "\n".join(lines)


def _json_safe(obj):
    """NaN (e.g. no visible pixel) becomes null: strict JSON has no NaN."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "weights", type=Path, help="folder with the four CoNR .pth files (+ model.json for a non-official preset)"
    )
    parser.add_argument("--size", type=int, default=256, help="model input size, a multiple of 128 (default 256)")
    parser.add_argument("--views", type=int, default=4, help="sheet views per sample (default 4)")
    parser.add_argument("--samples", type=int, default=64, help="validation samples to score (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic dataset (default 0)")
    parser.add_argument(
        "--family",
        default="toon",
        choices=("toon", "drawn"),
        help="held-out set: toon (the model card's, default) or drawn (framed like real drawings)",
    )
    parser.add_argument("--json", type=Path, default=Path("out/evaluate.json"), help="where to write the results")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--adapt",
        default=None,
        metavar="MINUTES[,MINUTES...]",
        help="adaptation mode: per held-out character shown as one drawing, score new poses before and after "
        "adapting for these minutes (one run, scored at each mark), with and without the drawn-detail pass",
    )
    parser.add_argument("--characters", type=int, default=2, help="adaptation mode: held-out characters (default 2)")
    parser.add_argument(
        "--views-per-frame",
        type=int,
        default=None,
        metavar="K",
        help="also score the model on the K views chosen per frame from the sheet UDP (stream --views-per-frame)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.adapt is not None:
        return _adaptation(args)
    try:
        model = load_weights_folder(args.weights)
        with SyntheticDataset(
            size=args.size, split="val", seed=args.seed, views=args.views, family=args.family
        ) as dataset:
            print(
                f"{args.weights}: preset '{model.cfg.name}', {min(args.samples, len(dataset))} {args.family} "
                "validation sample(s), "
                f"{args.size}x{args.size}, {args.views} view(s), {torch.get_num_threads()} thread(s), {args.device}"
            )
            t0 = time.perf_counter()
            result = evaluate(
                model,
                dataset,
                views=args.views,
                limit=args.samples,
                device=args.device,
                progress=True,
                views_per_frame=args.views_per_frame,
            )
    except AvatarAppError as e:
        print(f"evaluate: error: {e}", file=sys.stderr)
        return 2
    result.update(
        weights=str(args.weights),
        dataset={"name": "synthetic", "family": args.family, "split": "val", "size": args.size, "seed": args.seed},
    )
    print(format_report(result))
    print(f"{result['samples']} sample(s) in {time.perf_counter() - t0:.1f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_json_safe(result), indent=2))
    print(f"wrote {args.json}")
    return 0


def _marks(text: str) -> tuple[float, ...]:
    try:
        marks = tuple(float(v) for v in text.split(","))
    except ValueError:
        marks = ()
    if not marks or any(not (0 < m <= 24 * 60) for m in marks) or list(marks) != sorted(marks):
        raise SettingError("--adapt", "increasing minutes, e.g. 5,15,30", repr(text), "use e.g. --adapt 5,15,30")
    return marks


def _adaptation(args) -> int:
    from avatar_app.training.adapt_eval import adaptation_eval, format_adaptation

    try:
        marks = _marks(args.adapt)
        print(
            f"{args.weights}: adapting to {args.characters} held-out {args.family} character(s) shown as one drawing, "
            f"{args.size}x{args.size}, {args.samples} new poses each, marks {args.adapt} min, "
            f"{torch.get_num_threads()} thread(s), {args.device}"
        )
        result = adaptation_eval(
            args.weights,
            characters=args.characters,
            samples=args.samples,
            marks=marks,
            size=args.size,
            family=args.family,
            device=args.device,
            seed=args.seed,
            note=print,
        )
    except AvatarAppError as e:
        print(f"evaluate: error: {e}", file=sys.stderr)
        return 2
    result["weights"] = str(args.weights)
    print(format_adaptation(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_json_safe(result), indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
