"""What adapting CoNR to one character trains on: its own views, and its proxy re-posed.

A character folder gives its drawings, each view's fitted UDP (``sheet_udp/``) and the
proxy body the fit chose. From them, two kinds of training pair, all with the character's
own sheet as the sheet (so its encoding never changes, see ``adapt.py``):

* **views** (:func:`view_targets`): each drawing is the target of its own UDP map. Exact
  colours, eyes and line art, and the drawing's own outline (hair and frills beyond the
  proxy included), but only in the drawn pose.
* **re-posings** (:class:`PosePool`): the proxy in new poses (the demo motion at random times,
  joints jittered, spring bones run in; random yaws and framings as the live camera makes
  them), rasterized to UDP; the pseudo-target copies to each visible pixel the colour of
  the sheet pixel nearest in UDP space. Where that nearest point is more than
  :data:`LOOKUP_DISTANCE` away (the point is hidden in every drawing), no colour is claimed:
  the pixel's colour weight is 0 and the renderer's own prior fills it.

:func:`augment_batch` moves target and UDP alike (zoom, shift, small rotation), as the
follow camera does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from avatar_app.core.errors import SettingError
from avatar_app.infer.drawn_detail import DEFAULT_REACH, DrawnDetail
from avatar_app.raster.camera import yaw_view_dir
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.framing import FollowCamera, measure
from avatar_app.rig import CharacterAnimator, DemoMotion
from avatar_app.training.pose_jitter import jitter_rotations, run_in_vertices

log = logging.getLogger(__name__)

__all__ = ["LOOKUP_DISTANCE", "AdaptSheet", "PosePool", "augment_batch", "lookup_targets", "view_targets"]

# A target pixel's UDP point counts as drawn when a solidly drawn sheet pixel lies this close in
# UDP space (0.02 of the body's height, about 3 cm, five pixels of a 256² view). Larger than the
# exact-UDP threshold of flow_targets.py: a fitted proxy is only near the drawing.
LOOKUP_DISTANCE = DEFAULT_REACH
FRONT_SHARE, FRONT_YAW_DEG = 0.7, 45.0  # live users mostly face the camera
OTHER_FRAMINGS = {"full": 0.4, "knee": 0.25, "waist": 0.25, "bust": 0.1}
OWN_FRAMING_SHARE = 0.5  # of re-posings framed like the character's own live camera
ZOOM_RANGE, SHIFT_FRACTION = (0.92, 1.10), 0.05
OUTSIDE_ALPHA_WEIGHT = 0.3  # re-posings: the proxy's outline is a guess of the drawing's


@dataclass(frozen=True)
class AdaptSheet:
    """A character's sheet as the app encodes it, with each view's UDP on the same pixels."""

    rgb: np.ndarray  # uint8 [V,3,S,S] premultiplied
    alpha: np.ndarray  # uint8 [V,1,S,S]
    udp: np.ndarray  # float32 [V,4,S,S] xyz + mask

    def __post_init__(self):
        v, _, s, _ = self.rgb.shape
        for name, array, channels in (("alpha", self.alpha, 1), ("udp", self.udp, 4)):
            if array.shape != (v, channels, s, s):
                raise SettingError(
                    f"AdaptSheet {name}",
                    f"shape {(v, channels, s, s)} (one per sheet view, on the sheet's pixels)",
                    str(array.shape),
                    "run avatar-app fit again so sheet_udp matches the sheet",
                )

    @property
    def views(self) -> int:
        return self.rgb.shape[0]

    @property
    def size(self) -> int:
        return self.rgb.shape[-1]

    def rgba(self) -> np.ndarray:
        """float32 [V,4,S,S] premultiplied RGBA in [0, 1]."""
        return np.concatenate([self.rgb, self.alpha], axis=1).astype(np.float32) / 255.0


@dataclass
class Targets:
    """Stacked training targets: UDP, RGBA (premultiplied) and per-pixel loss weights."""

    udp: np.ndarray  # float32 [P,4,S,S]
    rgba: np.ndarray  # float32 [P,4,S,S]
    rgb_weight: np.ndarray  # float32 [P,1,S,S]
    alpha_weight: np.ndarray  # float32 [P,1,S,S]

    def __len__(self) -> int:
        return self.udp.shape[0]

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in self.__dataclass_fields__}


def view_targets(sheet: AdaptSheet) -> Targets:
    """Each drawing as the target of its own UDP: colour where drawn, alpha everywhere."""
    rgba = sheet.rgba()
    return Targets(
        sheet.udp.copy(), rgba, (rgba[:, 3:4] > 0.5).astype(np.float32), np.ones_like(rgba[:, 3:4], np.float32)
    )


def lookup_targets(sheet: AdaptSheet, udps: np.ndarray, max_distance: float = LOOKUP_DISTANCE) -> Targets:
    """Pseudo-targets for target UDP maps ``[P,4,S,S]``: the sheet's colours looked up in UDP space."""
    detail = DrawnDetail(sheet.rgb, sheet.alpha, sheet.udp, reach=max_distance)
    rgba = np.zeros_like(udps)
    rgb_weight = np.zeros((len(udps), 1, *udps.shape[-2:]), np.float32)
    for i, udp in enumerate(udps):
        colour, drawn = detail.coverage(udp.transpose(1, 2, 0))
        rgba[i, 3] = udp[3]  # the proxy's outline: the best guess of the drawing's in this pose
        rgba[i, :3] = colour.transpose(2, 0, 1) * rgba[i, 3]
        rgb_weight[i, 0] = drawn
    alpha_weight = np.where(udps[:, 3:4] > 0.5, 1.0, OUTSIDE_ALPHA_WEIGHT).astype(np.float32)
    return Targets(udps.astype(np.float32), rgba, rgb_weight, alpha_weight)


class PosePool:
    """UDP maps of the proxy in ``count`` new poses, pose ``i`` a pure function of ``(seed, i)``."""

    def __init__(self, character, framing, size: int, seed: int = 0):
        self.character, self.framing, self.size, self.seed = character, framing, size, int(seed)
        self.motion = DemoMotion()
        self.animator = CharacterAnimator(character, spring_dt=1.0 / 60.0)
        self.measures = measure(character)

    def camera(self, rng: np.random.Generator, joints: np.ndarray):
        front = rng.random() < FRONT_SHARE
        yaw = float(rng.uniform(-FRONT_YAW_DEG, FRONT_YAW_DEG) if front else rng.uniform(-180.0, 180.0))
        framing = self.framing
        if rng.random() >= OWN_FRAMING_SHARE:
            framing = str(rng.choice(list(OTHER_FRAMINGS), p=list(OTHER_FRAMINGS.values())))
        zoom, shift = float(rng.uniform(*ZOOM_RANGE)), rng.uniform(-SHIFT_FRACTION, SHIFT_FRACTION, size=2)
        camera = FollowCamera(self.measures, framing, view_dir=yaw_view_dir(yaw)).settled(joints)
        right, up, _ = camera.basis()
        offset = (shift[0] * right + shift[1] * up) * 2.0 * camera.half_height
        return replace(
            camera,
            eye=tuple(np.asarray(camera.eye) + offset),
            target=tuple(np.asarray(camera.target) + offset),
            half_height=float(camera.half_height * zoom),
        )

    def render(
        self,
        first: int,
        count: int,
        cancel: Callable[[], bool] = lambda: False,
        each: Callable[[], None] = lambda: None,
    ) -> np.ndarray:
        """UDP float32 [count,4,S,S] of poses ``first .. first+count-1`` (stops early when ``cancel()``;
        ``each()`` after every pose)."""
        from avatar_app.raster.context import create_headless_context
        from avatar_app.raster.rasterizer import Rasterizer

        out = []
        ctx = create_headless_context()
        try:
            with ctx:
                rasterizer = Rasterizer(self.size, ctx=ctx)
                mesh = raster_mesh(self.character, reduction=0.0)
                for i in range(first, first + count):
                    if cancel():
                        break
                    rng = np.random.default_rng(np.random.SeedSequence([self.seed, 17, i]))
                    time_s = float(rng.uniform(0.0, self.motion.duration))
                    mesh.update(run_in_vertices(self.animator, self.motion, time_s, jitter_rotations(rng, 1.0)))
                    camera = self.camera(rng, self.animator.world_matrices[:, :3, 3])
                    out.append(rasterizer.render(mesh, camera, udp_only=True).udp.transpose(2, 0, 1).copy())
                    each()
                rasterizer.close()
        finally:
            ctx.release()
        return np.stack(out) if out else np.zeros((0, 4, self.size, self.size), np.float32)


def augment_batch(batch: dict[str, torch.Tensor], gen: torch.Generator, strength: float = 1.0) -> dict:
    """The same random similarity transform for a sample's UDP, RGBA and weights.

    Zoom 0.85..1.2, shift up to 8% of the frame, rotation up to 10 degrees (times
    ``strength``). UDP and weights are resampled nearest (blended coordinates are points on
    no surface), colour bilinearly; what comes in from outside the frame is empty.
    """
    n = batch["udp"].shape[0]
    u = torch.rand(n, 4, generator=gen) * 2.0 - 1.0
    scale = torch.exp(u[:, 0] * strength * 0.17)  # ~0.85 .. 1.18
    angle = u[:, 1] * strength * np.deg2rad(10.0)
    shift = u[:, 2:] * strength * 0.16  # in [-1, 1] coordinates: 8% of the frame
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # [N,2,3]
    grid = F.affine_grid(theta, list(batch["udp"].shape), align_corners=False)
    out = dict(batch)
    for key, mode in (("udp", "nearest"), ("rgba", "bilinear"), ("rgb_weight", "nearest"), ("alpha_weight", "nearest")):
        out[key] = F.grid_sample(batch[key], grid, mode=mode, padding_mode="zeros", align_corners=False)
    # outside the frame: no body, and the alpha is known to be 0 there
    outside = F.grid_sample(torch.ones_like(batch["alpha_weight"]), grid, mode="nearest", align_corners=False)
    out["alpha_weight"] = out["alpha_weight"] + (1.0 - outside)
    return out
