"""Two renderers without a network, the floor a trained CoNR has to beat.

Both take a :class:`~avatar_app.training.sample.Sample` and return premultiplied
RGBA ``[4,S,S]`` float32 in [0,1], like the model and ``Sample.target_rgba``:

* :func:`nearest_view_paste` - the sheet view drawn from the camera angle closest
  to the target's, pasted unwarped. What "just show the sheet" scores.
* :func:`udp_lookup` - each visible target pixel copies the sheet pixel with the
  nearest UDP coordinate. A warp from ground-truth correspondences, with no
  learning; it needs the sheet's UDP, which only synthetic data has.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import cKDTree

from avatar_app.core.errors import InputError
from avatar_app.training.sample import Sample

__all__ = ["nearest_view_index", "nearest_view_paste", "sheet_view_rgba", "udp_lookup"]

log = logging.getLogger(__name__)


def sheet_view_rgba(sample: Sample, view: int) -> np.ndarray:
    """Sheet view ``view`` as premultiplied RGBA ``[4,S,S]`` float32 in [0,1]."""
    rgb = sample.sheet_rgb[view].astype(np.float32) / 255.0
    alpha = sample.sheet_alpha[view].astype(np.float32) / 255.0
    return np.concatenate([rgb, alpha], axis=0)


def _yaw_distance_deg(a: float, b: float) -> float:
    """Circular distance in degrees (350 and 10 are 20 apart)."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


def nearest_view_index(sample: Sample) -> int:
    """The view whose yaw is circularly nearest ``meta["target_yaw"]``; first on ties.

    Without yaws in ``meta`` (real data with unknown cameras), the view whose alpha
    (> 0.5) has the largest IoU with the target's UDP visibility: IoU rather than
    plain overlap so that a large view does not win just by covering more.
    """
    yaws, target_yaw = sample.meta.get("sheet_yaws"), sample.meta.get("target_yaw")
    if yaws is not None and target_yaw is not None:
        if len(yaws) != sample.num_views:
            raise InputError(
                f"sample {sample.character!r} meta['sheet_yaws']",
                f"one yaw per sheet view ({sample.num_views})",
                f"{len(yaws)} yaws",
                "keep sheet_yaws in step with the views when selecting or reordering them",
            )
        return int(np.argmin([_yaw_distance_deg(y, target_yaw) for y in yaws]))
    target = sample.target_udp[3] > 0.5
    views = sample.sheet_alpha[:, 0] > 127
    inter = (views & target).reshape(sample.num_views, -1).sum(1)
    union = (views | target).reshape(sample.num_views, -1).sum(1)
    return int(np.argmax(inter / np.maximum(union, 1)))


def nearest_view_paste(sample: Sample) -> np.ndarray:
    """Baseline (a): the nearest-yaw sheet view as is (see :func:`nearest_view_index`)."""
    return sheet_view_rgba(sample, nearest_view_index(sample))


def udp_lookup(sample: Sample) -> np.ndarray:
    """Baseline (b): nearest-neighbour colour transfer in UDP space.

    Every target pixel visible in ``target_udp`` (mask > 0.5) takes the premultiplied
    rgb and alpha of the sheet pixel, over all views and only where the sheet's UDP
    mask is set, whose xyz is nearest (Euclidean, k-d tree). Pixels outside the
    target mask stay 0.
    """
    if sample.sheet_udp is None:
        raise InputError(
            f"sample {sample.character!r}",
            "sheet_udp (the sheet views' UDP maps) for the udp_lookup baseline",
            "sheet_udp = None",
            "use a dataset that renders sheet UDP (the synthetic one does) or skip this baseline",
        )
    s = sample.size
    if sample.sheet_udp.shape != (sample.num_views, 4, s, s):
        raise InputError(
            f"sample {sample.character!r} sheet_udp",
            f"shape {(sample.num_views, 4, s, s)}",
            f"{sample.sheet_udp.shape}",
            "crop the sheet UDP exactly like the sheet views",
        )
    out = np.zeros((4, s, s), np.float32)
    target_visible = sample.target_udp[3] > 0.5
    if not target_visible.any():
        return out
    sheet_visible = sample.sheet_udp[:, 3] > 0.5  # [M,S,S]
    if not sheet_visible.any():
        log.warning("sample %r: no sheet pixel has UDP; udp_lookup renders nothing", sample.character)
        return out
    points = sample.sheet_udp[:, :3].transpose(0, 2, 3, 1)[sheet_visible]  # [K,3]
    rgba = np.concatenate([sample.sheet_rgb, sample.sheet_alpha], axis=1).transpose(0, 2, 3, 1)[sheet_visible]
    queries = sample.target_udp[:3].transpose(1, 2, 0)[target_visible]  # [Q,3]
    _, nearest = cKDTree(points).query(queries, k=1)
    out.transpose(1, 2, 0)[target_visible] = rgba[nearest].astype(np.float32) / 255.0
    return out
