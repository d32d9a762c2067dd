"""Check our CoNR against a golden file of the conformance kit.

    python tools/conformance.py ../shared/conformance/golden_256_2views.npz [--threads N]

Fills the official-size networks with the synthetic recipe, runs the app's own
inference path (SheetEncoder -> FrameRenderer, and the UDP detector for
``parser_pred``) on the golden inputs, and prints max / 99.9th percentile / mean
absolute error per output. Works for any size that is a multiple of 128 and any
number of views and frames. Exit status 0 inside the kit's suggested tolerances
(README §4), 1 outside.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector  # noqa: E402
from avatar_app.models import CoNR, create_conr, fill_networks  # noqa: E402

# README §4, "Suggested acceptance for an fp32 re-implementation".
TOLERANCES = {
    "rgba": {"max": 1e-2, "p99.9": 3e-3, "mean": 2e-4},
    "parser_pred": {"max": 5e-4},
    "x_target_sudp_a": {"max": 0.0},
}


def error_stats(ours: np.ndarray, ref: np.ndarray) -> dict:
    d = np.abs(ours.astype(np.float64) - ref.astype(np.float64)).ravel()
    return {"max": float(d.max()), "p99.9": float(np.quantile(d, 0.999)), "mean": float(d.mean())}


def feature_stats(t: torch.Tensor) -> np.ndarray:
    """mean, std (unbiased), min, max, mean abs - the golden's ``*_feature_stats`` row."""
    t = t.double()
    return np.array([t.mean(), t.std(), t.min(), t.max(), t.abs().mean()], dtype=np.float64)


def run_golden(golden: dict, device: str = "cpu", fast: bool = True, model: CoNR | None = None) -> dict:
    """Our outputs for the golden inputs, under the golden's keys.

    ``model`` defaults to the official-size network with the kit's synthetic weights.
    """
    images, masks = golden["character_images"], golden["character_masks"]
    n = images.shape[0]
    if model is None:
        model = fill_networks(create_conr("official", init=False))
    encoder, renderer, detector = (
        SheetEncoder(model, device),
        FrameRenderer(model, device, fast=fast),
        UDPDetector(model, device),
    )
    pose_label = torch.from_numpy(golden["pose_label"])
    pose_mask = torch.from_numpy(golden["pose_mask"]).float() / 255.0
    target = CoNR.target_input(pose_label[:, :3], pose_mask)

    out = {"x_target_sudp_a": target.numpy(), "rgba": [], "parser_pred": [], "parser_features": [], "debug": []}
    timings = {"encode_s": 0.0, "render_s": 0.0}
    for i in range(n):  # every frame has its own sheet
        rgb = torch.from_numpy(images[i]).float() / 255.0
        alpha = torch.from_numpy(masks[i]).float() / 255.0
        t0 = time.perf_counter()
        state = encoder.encode_tensors(rgb, alpha)
        t1 = time.perf_counter()
        debug: dict = {}
        out["rgba"].append(renderer.render_tensor(state, target[i : i + 1], debug=debug).cpu().numpy())
        t2 = time.perf_counter()
        timings["encode_s"] += t1 - t0
        timings["render_s"] += t2 - t1
        out["parser_pred"].append(detector.detect_tensor(rgb).cpu().numpy())
        out["parser_features"].append(state.features)
        out["debug"].append(debug)
    out["rgba"] = np.concatenate(out["rgba"])
    out["parser_pred"] = np.stack(out["parser_pred"])
    feats = [torch.stack([f[p] for f in out["parser_features"]]) for p in range(5)]
    tfeats = [torch.cat([d["target_features"][p] for d in out["debug"]]) for p in range(5)]
    out["parser_feature_shapes"] = np.array([list(f.shape) for f in feats], dtype=np.int64)
    out["target_feature_shapes"] = np.array([list(t.shape) for t in tfeats], dtype=np.int64)
    out["parser_feature_stats"] = np.stack([feature_stats(f) for f in feats])
    out["target_feature_stats"] = np.stack([feature_stats(t) for t in tfeats])
    for p in range(6):
        out[f"block{p}_residual_flow"] = (
            torch.cat([d[f"block{p}_residual_flow"] for d in out["debug"]], dim=1).cpu().numpy()
        )
    out["timings"] = timings
    return out


def compare(golden: dict, ours: dict) -> tuple[list[str], bool]:
    """Report lines and whether everything is inside tolerance."""
    lines, ok = [], True
    lines.append(f"{'output':<26}{'max':>12}{'p99.9':>12}{'mean':>12}  verdict")
    for key, tol in TOLERANCES.items():
        if golden[key].shape != ours[key].shape:
            lines.append(f"{key:<26} shape {ours[key].shape} != golden {golden[key].shape}  FAIL")
            ok = False
            continue
        s = error_stats(ours[key], golden[key])
        bad = [f"{k} {s[k]:.3g} > {v:g}" for k, v in tol.items() if s[k] > v]
        ok &= not bad
        lines.append(
            f"{key:<26}{s['max']:>12.3g}{s['p99.9']:>12.3g}{s['mean']:>12.3g}  "
            f"{'FAIL: ' + '; '.join(bad) if bad else 'ok'}"
        )
    for p in range(6):
        key = f"block{p}_residual_flow"
        if key in golden:
            s = error_stats(ours[key], golden[key])
            lines.append(f"{key:<26}{s['max']:>12.3g}{s['p99.9']:>12.3g}{s['mean']:>12.3g}  (info)")
    for key in ("parser_feature_shapes", "target_feature_shapes"):
        same = np.array_equal(golden[key], ours[key])
        ok &= same
        lines.append(
            f"{key:<26}{'exact' if same else 'DIFFERENT: ' + str(ours[key].tolist()):>36}  {'ok' if same else 'FAIL'}"
        )
    for key in ("parser_feature_stats", "target_feature_stats"):
        if key not in golden:
            continue
        rel = np.abs(ours[key] - golden[key]) / np.maximum(np.abs(golden[key]), 1e-3)
        lines.append(f"{key:<26}{f'max rel diff {rel.max():.2g}':>36}  (info)")
    return lines, ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("golden", type=Path, help="golden_*.npz from the conformance kit")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--plain-convs", action="store_true", help="do not use the Winograd layers")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with np.load(args.golden, allow_pickle=False) as z:
        golden = {k: z[k] for k in z.files}
    n, m, _, h, w = golden["character_images"].shape
    print(f"{args.golden.name}: {n} frame(s), {m} view(s), {h}x{w}, {torch.get_num_threads()} thread(s), {args.device}")
    ours = run_golden(golden, args.device, fast=not args.plain_convs)
    lines, ok = compare(golden, ours)
    print("\n".join(lines))
    t = ours["timings"]
    print(f"sheet encode {t['encode_s']:.2f} s, render {t['render_s']:.2f} s (first call, not a benchmark)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
