"""Score a CoNR on a dataset against the two baselines, through the app's own inference path.

The model renders with :class:`~avatar_app.infer.torch_backend.SheetEncoder` and
:class:`~avatar_app.infer.torch_backend.FrameRenderer`, exactly what the live app
runs, so a number here is a number the user sees. Per sample: PSNR, SSIM and alpha
IoU of the model, of :func:`~avatar_app.training.baselines.nearest_view_paste` and
of :func:`~avatar_app.training.baselines.udp_lookup` against ``target_rgba``; and
the UDP detector (pose from a picture) on the target picture against
``target_udp``, next to a constant-prediction reference. Where the sheet has UDP, the
shader's final flow is also compared with the UDP correspondences
(:mod:`~avatar_app.training.flow_targets`): its mean end-point error in pixels, next
to that of no flow at all.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import check_model_size
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector
from avatar_app.models import CoNR, load_weights_folder
from avatar_app.training.baselines import nearest_view_paste, udp_lookup
from avatar_app.training.drawn_family import face_mask
from avatar_app.training.flow_targets import correspondence_flow
from avatar_app.training.metrics import alpha_iou, psnr, ssim, udp_error
from avatar_app.training.sample import Sample

__all__ = ["METHODS", "evaluate", "select_views"]

log = logging.getLogger(__name__)

METHODS = ("model", "model_views", "nearest_view", "udp_lookup")
IMAGE_METRICS = ("psnr", "ssim", "alpha_iou")


def select_views(sample: Sample, views: int) -> Sample:
    """The sample with its first ``views`` sheet views (and their yaws)."""
    if views < 1 or sample.num_views < views:
        raise SettingError(
            "views",
            f"between 1 and {sample.num_views} (the views per sample of this dataset)",
            str(views),
            "ask for fewer views, or make the dataset with more",
        )
    if sample.num_views == views:
        return sample
    meta = dict(sample.meta)
    if "sheet_yaws" in meta:
        meta["sheet_yaws"] = list(meta["sheet_yaws"])[:views]
    return Sample(
        sample.sheet_rgb[:views],
        sample.sheet_alpha[:views],
        None if sample.sheet_udp is None else sample.sheet_udp[:views],
        sample.target_udp,
        sample.target_rgba,
        sample.character,
        meta,
    )


MIN_FACE_PIXELS = 16  # fewer face pixels than this (a back view, a far shot): no face score


def _image_scores(pred: torch.Tensor, target: torch.Tensor, face: torch.Tensor | None = None) -> dict[str, float]:
    """PSNR / SSIM / alpha IoU; with a ``face`` mask [H,W] also the PSNR over the face's pixels."""
    pred, target = pred[None].float(), target[None].float()
    scores = {
        "psnr": psnr(pred, target).item(),
        "ssim": ssim(pred, target).item(),
        "alpha_iou": alpha_iou(pred, target).item(),
    }
    if face is not None:
        pixels = face.reshape(-1)
        scores["face_psnr"] = psnr(pred.flatten(2)[..., pixels, None], target.flatten(2)[..., pixels, None]).item()
    return scores


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def evaluate(
    model: CoNR | str | Path,
    dataset,
    views: int = 4,
    limit: int | None = None,
    device: str = "cpu",
    progress: bool = False,
    views_per_frame: int | None = None,
) -> dict:
    """Mean (and per-sample) scores of the model, both baselines and the UDP detector.

    ``model`` is a weights folder (:func:`~avatar_app.models.load_weights_folder`) or a :class:`CoNR`; a given
    model is moved to ``device`` and its train/eval flags are restored afterwards, so
    this can run in the middle of training. ``dataset`` is anything with ``len`` and
    indexing that yields :class:`Sample` s; the first ``limit`` samples are scored,
    each with its first ``views`` sheet views. ``udp_lookup`` is scored only on samples
    with ``sheet_udp`` (``methods["udp_lookup"]["samples"]`` says how many). Means
    skip NaN (the detector's xyz error of a target with no visible pixel).

    The detector reference is the best constant xyz guess in the L2 sense that knows
    the answer: each sample's own mean visible xyz. A detector worth having beats it.

    ``views_per_frame``: also score the model on the views ``infer.view_choice`` picks for
    each target (``model_views``, samples with ``sheet_udp`` only), from the same encode.
    """
    if not isinstance(model, CoNR):
        model = load_weights_folder(model)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n < 1:
        raise SettingError(
            "samples",
            "at least 1 sample to evaluate",
            f"{len(dataset)} in the dataset, limit {limit}",
            "raise --samples",
        )
    training_flags = {m: m.training for m in model.modules()}
    try:
        encoder, renderer, detector = (
            SheetEncoder(model, device),
            FrameRenderer(model, device),
            UDPDetector(model, device),
        )
        per_sample, size = [], None
        timings = {"model_s": 0.0, "baselines_s": 0.0, "detector_s": 0.0}
        for i in tqdm(range(n), desc="evaluate", unit="sample", disable=not progress):
            sample = select_views(dataset[i], views)
            size = check_model_size(sample.size, f"sample {i} size")
            per_sample.append(_score_sample(i, sample, encoder, renderer, detector, timings, views_per_frame))
            if sample.sheet_udp is not None:
                per_sample[-1]["flow"] = _flow_errors(model, sample, device)
    finally:
        for m, flag in training_flags.items():
            m.train(flag)
    return _summarise(per_sample, model.cfg.name, size, views, device, timings)


def _score_sample(index: int, sample: Sample, encoder, renderer, detector, timings: dict, keep=None) -> dict:
    target_rgba = torch.from_numpy(sample.target_rgba)
    target_udp = torch.from_numpy(sample.target_udp)
    row: dict = {"index": index, "character": sample.character}
    face = None
    if sample.meta.get("face_region"):
        mask = face_mask(sample.target_udp, sample.meta["face_region"])
        face = torch.from_numpy(mask) if mask.sum() >= MIN_FACE_PIXELS else None

    t0 = time.perf_counter()
    state = encoder.encode_tensors(
        torch.from_numpy(sample.sheet_rgb).float() / 255.0, torch.from_numpy(sample.sheet_alpha).float() / 255.0
    )
    rendered = renderer.render_tensor(state, CoNR.target_input(target_udp[None, :3], target_udp[None, 3:4]))[0].cpu()
    row["model"] = _image_scores(rendered, target_rgba, face)
    if keep and sample.sheet_udp is not None:
        from avatar_app.infer.view_choice import ViewChoice

        views = ViewChoice(sample.sheet_udp, keep).choose(sample.target_udp.transpose(1, 2, 0))
        target = CoNR.target_input(target_udp[None, :3], target_udp[None, 3:4])
        chosen = renderer.render_tensor(state.subset(views), target)[0].cpu()
        row["model_views"] = _image_scores(chosen, target_rgba, face)
        row["model_views"]["views"] = len(views)
    t1 = time.perf_counter()
    row["nearest_view"] = _image_scores(torch.from_numpy(nearest_view_paste(sample)), target_rgba, face)
    if sample.sheet_udp is not None:
        row["udp_lookup"] = _image_scores(torch.from_numpy(udp_lookup(sample)), target_rgba, face)
    t2 = time.perf_counter()
    detected = detector.detect_tensor(target_rgba[None, :3]).cpu()
    errors = udp_error(detected, target_udp[None])
    row["detector"] = {k: v.item() for k, v in errors.items()}
    visible = target_udp[3] > 0.5
    constant = target_udp.clone()
    if visible.any():
        constant[:3] = target_udp[:3][:, visible].mean(1)[:, None, None]
    row["detector_reference"] = {"xyz_l1": udp_error(constant[None], target_udp[None])["xyz_l1"].item()}
    t3 = time.perf_counter()
    timings["model_s"] += t1 - t0
    timings["baselines_s"] += t2 - t1
    timings["detector_s"] += t3 - t2
    return row


@torch.no_grad()
def _flow_errors(model: CoNR, sample: Sample, device) -> dict:
    """End-point error (pixels, on target pixels whose surface point the view shows) of the final flow."""
    rgb = torch.from_numpy(sample.sheet_rgb).float().div(255.0)[None].to(device)
    alpha = torch.from_numpy(sample.sheet_alpha).float().div(255.0)[None].to(device)
    udp = torch.from_numpy(sample.target_udp)[None].to(device)
    flows: list = []
    model.to(device).eval()(rgb, alpha, CoNR.target_input(udp[:, :3], udp[:, 3:4]), flows=flows)
    target, valid = correspondence_flow(torch.from_numpy(sample.sheet_udp)[None], udp)
    count = float(valid.sum())
    if count == 0:
        return {"epe_px": math.nan, "zero_flow_epe_px": math.nan}
    epe = lambda f: float((f - target).norm(dim=1, keepdim=True).mul(valid).sum()) / count  # noqa: E731
    return {"epe_px": epe(flows[-1]), "zero_flow_epe_px": epe(torch.zeros_like(target))}


def _summarise(per_sample: list[dict], preset: str, size: int, views: int, device: str, timings: dict) -> dict:
    methods = {}
    for method in METHODS:
        rows = [r[method] for r in per_sample if method in r]
        if rows:
            methods[method] = {"samples": len(rows), **{k: _mean([r[k] for r in rows]) for k in IMAGE_METRICS}}
            faces = [r["face_psnr"] for r in rows if "face_psnr" in r]
            if faces:
                methods[method].update(face_psnr=_mean(faces), face_samples=len(faces))
    return {
        "preset": preset,
        "size": size,
        "views": views,
        "samples": len(per_sample),
        "device": str(device),
        "methods": methods,
        "psnr_gain_over_nearest_view_db": methods["model"]["psnr"] - methods["nearest_view"]["psnr"],
        "detector": {k: _mean([r["detector"][k] for r in per_sample]) for k in ("xyz_l1", "mask_iou")},
        "detector_reference": {"xyz_l1": _mean([r["detector_reference"]["xyz_l1"] for r in per_sample])},
        "flow": {k: _mean([r["flow"][k] for r in per_sample if "flow" in r]) for k in ("epe_px", "zero_flow_epe_px")},
        "timings_s": timings,
        "per_sample": per_sample,
    }
