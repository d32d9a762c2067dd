"""What the fit maximises: how well a posed proxy's silhouette and hair cover a drawing's.

A view's score is the silhouette's IoU blended with the hair's (``HAIR_WEIGHT``) where the
drawing's hair was found (``Drawing.hair_mask``): the silhouette alone cannot tell hair from
cloth. Both are compared at ``WORK_SIZE``, the proxy rendered at twice that and averaged down,
so the score moves smoothly with sub-pixel changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from avatar_app.core.errors import AvatarAppError
from avatar_app.fit.drawing import Drawing
from avatar_app.fit.face import DrawnFace
from avatar_app.fit.landmarks import DrawnLandmarks
from avatar_app.fit.proxy import ProxyModel, Silhouettes, ViewParams, iou
from avatar_app.rig.avatar_style import AvatarStyle

WORK_SIZE = 128
HAIR_WEIGHT = 0.35


class FitCancelled(AvatarAppError):
    """The user stopped the fit; nothing was written."""


@dataclass
class ViewFit:
    drawing: Drawing
    params: ViewParams
    landmarks: DrawnLandmarks | None
    start: str  # how the view was started: "landmarks" or the fallback used
    target: np.ndarray = field(repr=False)  # float32 [WORK, WORK] coverage
    hair: np.ndarray = field(repr=False)  # float32 [WORK, WORK]: where the drawing's hair colour is
    face: DrawnFace | None = None  # what the drawing's head shows (``fit.face``), once placed
    facing: float | None = None  # the yaw the user said the view is drawn from (``fit --facing``)
    score: float = 0.0  # what the search maximises (Objective.score)
    iou: float = 0.0  # the silhouette's IoU, once fitted


@dataclass
class FitResult:
    style: AvatarStyle
    views: list[ViewFit]
    model: ProxyModel

    @property
    def mean_iou(self) -> float:
        return float(np.mean([v.iou for v in self.views]))


class Objective:
    """1 - IoU of proxy silhouettes against the drawings, with cancellation and progress."""

    def __init__(self, silhouettes: Silhouettes, cancel: threading.Event | None, note: Callable[[str], None]):
        self.silhouettes = silhouettes
        self.cancel = cancel
        self.note = note
        self.evaluations = 0

    def coverage(self, model: ProxyModel, params: ViewParams) -> tuple[np.ndarray, np.ndarray]:
        mask, hair = self.silhouettes.render_hair(model, params)
        shrink = (WORK_SIZE, WORK_SIZE)
        return (
            cv2.resize(mask, shrink, interpolation=cv2.INTER_AREA),
            cv2.resize(hair, shrink, interpolation=cv2.INTER_AREA),
        )

    def score(self, model: ProxyModel, view: ViewFit, params: ViewParams | None = None) -> float:
        """The silhouette's IoU, blended with the hair's (HAIR_WEIGHT) where the drawing's hair was found."""
        if self.cancel is not None and self.cancel.is_set():
            raise FitCancelled("fit", "the fit to run to the end", "it was cancelled", "start it again when ready")
        self.evaluations += 1
        return self.blend(*self.coverage(model, params or view.params), view)

    @staticmethod
    def blend(mask: np.ndarray, hair: np.ndarray, view: ViewFit) -> float:
        """The score of a rendered (mask, hair) coverage pair against the view's drawing."""
        silhouette = iou(mask, view.target)
        if not view.hair.any():
            return silhouette
        return (1.0 - HAIR_WEIGHT) * silhouette + HAIR_WEIGHT * iou(hair, view.hair)

    def silhouette_iou(self, model: ProxyModel, view: ViewFit) -> float:
        return iou(self.coverage(model, view.params)[0], view.target)


def hair_target(drawing: Drawing) -> np.ndarray:
    return cv2.resize(drawing.hair_mask(), (WORK_SIZE, WORK_SIZE), interpolation=cv2.INTER_AREA)


def target_coverage(drawing: Drawing) -> np.ndarray:
    alpha = drawing.square[..., 3].astype(np.float32) / 255.0
    return cv2.resize(alpha, (WORK_SIZE, WORK_SIZE), interpolation=cv2.INTER_AREA)
