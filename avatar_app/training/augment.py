"""Augmentations that make drawings of renders (the ``drawn`` synthetic family).

Two kinds, because the sheet is a drawing and the target is what the network must draw:

* **style** (:class:`StyleJitter`: colour jitter, line-art darkening) changes the character's
  look: applied with the same parameters to every sheet view *and* the target, so the
  network must carry it over from the sheet.
* **degradations** (:func:`degrade_view`: slight blur or sharpening, paper grain, JPEG
  artefacts) are what a drawing's file does to it: sheet views only, each its own draw, so
  the network learns to render a clean picture from a worn one.

Everything works on premultiplied colour (the sheet's uint8 arrays, the target's float32)
and keeps it premultiplied: colour never exceeds alpha, alpha is never changed except by
blur, which blurs colour and alpha together as a scanner would.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["StyleJitter", "degrade_view", "random_style_jitter"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class StyleJitter:
    """A colour change and a line darkening, the same for a sheet and its target."""

    hue_turn: float = 0.0  # of a full turn of the chroma plane
    saturation: float = 1.0
    brightness: float = 1.0
    contrast: float = 1.0
    line_darkening: float = 0.0  # 0..1

    def matrix(self) -> np.ndarray:
        """The colour change without the lines: float32 [3,3] on straight RGB, before contrast."""
        luma = np.outer(np.ones(3), _LUMA)  # x -> its grey
        angle = 2.0 * np.pi * self.hue_turn
        axis = np.full(3, 1.0 / np.sqrt(3.0))
        cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        turn = np.cos(angle) * np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * np.outer(axis, axis)
        return (luma + self.saturation * turn @ (np.eye(3) - luma)).astype(np.float32)

    def apply(self, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Premultiplied float32 ``rgb`` [3,H,W] with ``alpha`` [1,H,W] in [0,1] -> the jittered rgb.

        Hue turn (about the grey axis), saturation, contrast and brightness are one affine map
        of straight colour, so they apply to premultiplied colour without dividing by alpha:
        ``b * c * M @ rgb + b * (1 - c) / 2 * alpha``.
        """
        gain = self.brightness * self.contrast
        out = np.tensordot(gain * self.matrix(), rgb, axes=1)
        out += np.float32(0.5 * self.brightness * (1.0 - self.contrast)) * alpha
        if self.line_darkening > 0:  # darker than the pixels around: line art
            lum = np.tensordot(_LUMA, rgb, axes=1)
            lines = np.clip((cv2.blur(lum, (5, 5)) - lum) * 6.0, 0.0, 1.0)
            out *= 1.0 - self.line_darkening * lines
        return np.ascontiguousarray(np.clip(out, 0.0, alpha), dtype=np.float32)

    def apply_uint8(self, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The same on a sheet view's premultiplied uint8 rgb [3,S,S] and alpha [1,S,S]."""
        out = self.apply(rgb.astype(np.float32) / 255.0, alpha.astype(np.float32) / 255.0)
        return np.minimum(np.rint(out * 255.0), alpha).astype(np.uint8)


def random_style_jitter(rng: np.random.Generator) -> StyleJitter:
    return StyleJitter(
        hue_turn=float(rng.uniform(-0.04, 0.04)),
        saturation=float(rng.uniform(0.8, 1.2)),
        brightness=float(rng.uniform(0.9, 1.08)),
        contrast=float(rng.uniform(0.9, 1.12)),
        line_darkening=float(rng.uniform(0.0, 0.8)) if rng.random() < 0.5 else 0.0,
    )


def degrade_view(rgb: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One sheet view (premultiplied uint8 rgb [3,S,S], alpha [1,S,S]) as a drawing's file might hold it."""
    image = np.concatenate([rgb, alpha]).transpose(1, 2, 0).astype(np.float32) / 255.0  # [S,S,4]
    kind = rng.random()
    if kind < 0.3:  # slight blur: colour and alpha together (premultiplied)
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.35, 0.9)))
    elif kind < 0.6:  # unsharp mask on colour
        blurred = cv2.GaussianBlur(image[..., :3], (0, 0), 1.0)
        image[..., :3] += float(rng.uniform(0.2, 0.9)) * (image[..., :3] - blurred)
    if rng.random() < 0.6:  # paper grain: a fine multiplicative noise on the colour
        grain = rng.normal(0.0, float(rng.uniform(0.01, 0.045)), image.shape[:2]).astype(np.float32)
        image[..., :3] *= 1.0 + cv2.GaussianBlur(grain, (0, 0), 0.6)[..., None]
    image = np.clip(image, 0.0, 1.0)
    image[..., :3] = np.minimum(image[..., :3], image[..., 3:])
    if rng.random() < 0.6:  # JPEG of the drawing over white paper, then cut out again
        a = image[..., 3:]
        over_white = image[..., :3] + (1.0 - a)
        bgr = cv2.cvtColor(np.rint(over_white * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 96))])
        decoded = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        image[..., :3] = np.clip(decoded - (1.0 - a), 0.0, 1.0)
        image[..., :3] = np.minimum(image[..., :3], a)
    out = np.rint(image * 255.0).astype(np.uint8).transpose(2, 0, 1)
    return np.ascontiguousarray(out[:3]), np.ascontiguousarray(out[3:])


def augment_sample(
    sheet_rgb: np.ndarray, sheet_alpha: np.ndarray, target_rgba: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sample's sheet views (uint8 [M,3,S,S], [M,1,S,S]) and target (float32 [4,S,S]) made drawing-like:
    one style jitter for all of them, then each sheet view degraded on its own."""
    jitter = random_style_jitter(rng)
    rgbs, alphas = [], []
    for rgb, alpha in zip(sheet_rgb, sheet_alpha):
        rgb, alpha = degrade_view(jitter.apply_uint8(rgb, alpha), alpha, rng)
        rgbs.append(rgb)
        alphas.append(alpha)
    target = target_rgba.copy()
    target[:3] = jitter.apply(target_rgba[:3], target_rgba[3:])
    return np.stack(rgbs), np.stack(alphas), target
