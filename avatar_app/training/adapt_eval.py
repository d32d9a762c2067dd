"""The adaptation mode of ``tools/evaluate.py``: does ``adapt`` make a character render better?

Held-out synthetic characters are presented like drawings: one sheet view (the front,
framed as the character's style drew it: full, knee- or waist-up), in the rig's colour
pass, with its UDP as a fit would give it (the toon family: the exact body; the drawn
family: the body under a drawing of a slightly different one). Every other pose is known
from the rig, so new poses of the character (the held-out set's own targets) have ground
truth. Scored per character, in those new poses, at each time mark of one adaptation run
(the learning rate is constant after warm-up, so the run at minute 5 is what
``adapt --minutes 5`` gives):

* ``before``: the starting weights; ``adapted``: the best weights at the mark;
* ``+ drawn detail``: each of them followed by the drawing's own pixels through UDP
  (:mod:`avatar_app.infer.drawn_detail`), what the app renders for a character folder;
* ``udp_lookup``: the drawing's pixels alone, nothing where no view shows the point.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from avatar_app.infer.drawn_detail import DrawnDetail
from avatar_app.training.adapt import Adapter, AdaptInputs, AdaptSettings
from avatar_app.training.adapt_data import AdaptSheet
from avatar_app.training.drawn_family import face_mask
from avatar_app.training.metrics import psnr

log = logging.getLogger(__name__)

__all__ = ["adaptation_eval", "format_adaptation"]

MIN_FACE_PIXELS = 16
VAL_POOL = 8  # characters in the held-out pool the targets cycle through


def _scores(pred: np.ndarray, sample) -> tuple[float, float]:
    p, g = torch.from_numpy(pred)[None], torch.from_numpy(sample.target_rgba)[None]
    whole = float(psnr(p, g)[0])
    face = face_mask(sample.target_udp, sample.meta["face_region"]).reshape(-1)
    if face.sum() < MIN_FACE_PIXELS:
        return whole, float("nan")
    return whole, float(psnr(p.flatten(2)[..., face, None], g.flatten(2)[..., face, None])[0])


def _lookup(detail: DrawnDetail, sample) -> np.ndarray:
    udp = sample.target_udp.transpose(1, 2, 0)
    colour, covered = detail.coverage(udp)
    out = np.zeros_like(sample.target_rgba)
    out[:3] = (colour * covered[..., None]).transpose(2, 0, 1)
    out[3] = covered
    return out


def _rows(adapter: Adapter, detail: DrawnDetail, samples, prefix: str) -> dict[str, list[tuple[float, float]]]:
    plain, detailed = [], []
    for sample in samples:
        pred = adapter.render_best(sample.target_udp)
        plain.append(_scores(pred, sample))
        frame = detail.apply(np.ascontiguousarray(pred.transpose(1, 2, 0)), sample.target_udp.transpose(1, 2, 0))
        detailed.append(_scores(np.ascontiguousarray(frame.transpose(2, 0, 1)), sample))
    return {prefix: plain, f"{prefix} + drawn detail": detailed}


def adaptation_eval(
    weights,
    *,
    characters: int = 2,
    samples: int = 12,
    marks=(5.0, 15.0, 30.0),
    size: int = 256,
    family: str = "toon",
    device: str = "cpu",
    seed: int = 0,
    note=lambda text: None,
) -> dict:
    """Scores (see the module docstring) per character and mean: ``{"methods": {name: {...}}, ...}``."""
    from avatar_app.training.synthetic import SyntheticDataset

    dataset = SyntheticDataset(size=size, split="val", num_characters=VAL_POOL, seed=seed, family=family)
    per_method: dict[str, list] = {}
    runs = []
    try:
        for k in range(characters):
            c = dataset.character(k)
            sheet = AdaptSheet(c.sheet_rgb[:1], c.sheet_alpha[:1], c.sheet_udp[:1])
            targets = [dataset[k + VAL_POOL * j] for j in range(samples)]
            inputs = AdaptInputs(sheet, c.character, c.sheet_framings[0], c.face_region, c.character_id)
            settings = AdaptSettings(minutes=max(marks), size=size, device=device, seed=seed)
            t0 = time.perf_counter()
            adapter = Adapter(inputs, weights, settings)
            detail = DrawnDetail(sheet.rgb, sheet.alpha, sheet.udp)
            found = {"udp_lookup": [_scores(_lookup(detail, s), s) for s in targets]}
            found.update(_rows(adapter, detail, targets, "before"))
            for mark in marks:
                adapter.run_until(mark * 60.0)
                found.update(_rows(adapter, detail, targets, f"adapted {mark:g} min"))
                note(
                    f"{c.character_id}: {mark:g} min, {adapter.step} steps: " + _summary(found, f"adapted {mark:g} min")
                )
            runs.append({"character": c.character_id, "steps": adapter.step, "seconds": time.perf_counter() - t0})
            for name, values in found.items():
                per_method.setdefault(name, []).extend(values)
    finally:
        dataset.close()
    methods = {}
    for name, values in per_method.items():
        arr = np.array(values, dtype=np.float64)
        methods[name] = {"psnr": float(np.mean(arr[:, 0])), "face_psnr": float(np.nanmean(arr[:, 1]))}
    return {"methods": methods, "runs": runs, "family": family, "size": size, "samples": samples, "marks": list(marks)}


def _summary(found: dict, name: str) -> str:
    arr = np.array(found[name], dtype=np.float64)
    return f"{np.mean(arr[:, 0]):.2f} dB, face {np.nanmean(arr[:, 1]):.2f} dB"


def format_adaptation(result: dict) -> str:
    lines = ["| renderer | PSNR (dB) | face PSNR (dB) |", "|---|---:|---:|"]
    for name, s in result["methods"].items():
        lines.append(f"| {name} | {s['psnr']:.2f} | {s['face_psnr']:.2f} |")
    return "\n".join(lines)
