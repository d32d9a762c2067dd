"""Where each target pixel is in each sheet view: flow targets from exact UDP (synthetic data).

CoNR's shader warps every sheet view towards the target by a flow it accumulates over
six levels (``A``; README §5). The renderer's losses reach that flow only through the
pixels it samples, a gradient that sees one pixel around the current guess; on its own
the flow hardly learns, and the network settles for colours it can guess from the pose.

A synthetic sheet has the exact UDP of every view pixel, so the flow that makes view
``v`` line up with the target is known wherever the target's surface point is visible
in that view: target pixel ``p`` with rest-pose coordinate ``u`` corresponds to the
view pixel ``q`` whose UDP is nearest to ``u``, and the flow is ``q - p`` (x, y in
pixels, the convention of ``warp``). A point hidden in the view has no close UDP there
(its nearest neighbour lies on another surface) and gets no target.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

__all__ = ["MAX_UDP_DISTANCE", "correspondence_flow", "flow_loss"]

# How close a view pixel's UDP must be to count as the same surface point: UDP units are
# the character's height, so 0.012 is about 2 cm, or three pixels of a 256² view.
MAX_UDP_DISTANCE = 0.012


def correspondence_flow(sheet_udp: torch.Tensor, target_udp: torch.Tensor, max_distance: float = MAX_UDP_DISTANCE):
    """Flow targets and where they hold.

    ``sheet_udp`` ``[N,M,4,S,S]``, ``target_udp`` ``[N,4,S,S]`` (xyz + mask) -> flow
    ``[N*M,2,S,S]`` (pixels, x then y) and valid ``[N*M,1,S,S]`` (0/1), on ``target_udp``'s
    device, views folded into the batch like the shader folds them.
    """
    n, m, _, s, _ = sheet_udp.shape
    sheet = sheet_udp.detach().cpu().numpy()
    target = target_udp.detach().cpu().numpy()
    flow = np.zeros((n, m, 2, s, s), np.float32)
    valid = np.zeros((n, m, 1, s, s), np.float32)
    ys, xs = np.mgrid[0:s, 0:s]
    for i in range(n):
        seen = target[i, 3] > 0.5
        if not seen.any():
            continue
        queries = target[i, :3].transpose(1, 2, 0)[seen]
        py, px = ys[seen], xs[seen]
        for v in range(m):
            on_view = sheet[i, v, 3] > 0.5
            if not on_view.any():
                continue
            dist, nearest = cKDTree(sheet[i, v, :3].transpose(1, 2, 0)[on_view]).query(queries, k=1)
            ok = dist < max_distance
            qy, qx = ys[on_view][nearest[ok]], xs[on_view][nearest[ok]]
            flow[i, v, 0][py[ok], px[ok]] = qx - px[ok]
            flow[i, v, 1][py[ok], px[ok]] = qy - py[ok]
            valid[i, v, 0][py[ok], px[ok]] = 1.0
    to = lambda a: torch.from_numpy(a.reshape(n * m, *a.shape[2:])).to(target_udp.device)  # noqa: E731
    return to(flow), to(valid)


def flow_loss(flows: list[torch.Tensor], target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean L1 between each level's accumulated flow and the target, in units of the image width.

    ``flows``: the shader's ``A`` after every level (``[N*M,2,h,w]``, pixels of that level);
    the full-size target is area-averaged over the valid pixels down to each level and
    scaled to its pixels (align_corners=True units: ``(h-1)/(S-1)``).
    """
    s = target.shape[-1]
    total = target.new_zeros(())
    for a in flows:
        h, w = a.shape[-2:]
        if (h, w) == (s, s):
            gt, ok = target, valid
        else:
            weight = F.adaptive_avg_pool2d(valid, (h, w))
            gt = F.adaptive_avg_pool2d(target * valid, (h, w)) / weight.clamp(min=1e-6)
            ok = (weight > 0.5).float()
        scale = torch.tensor([(w - 1) / (s - 1), (h - 1) / (s - 1)], device=a.device).view(1, 2, 1, 1)
        err = ((a - gt * scale).abs() * ok).sum() / (ok.sum() * 2.0 + 1.0)
        total = total + err / max(w - 1, 1)
    return total / max(len(flows), 1)
