"""Which way a drawing faces: the drawn face (skin with eyes) inside the fitted head.

A silhouette looks the same from the front and from behind, and mediapipe's pose model
answers both ways on anime art (it reports a nose and eyes on the back of a head, and finds
no person in many drawings). What does tell them apart is the face itself: in the drawing's
head, a face is a region of skin with features drawn into it (eyes, a mouth: not skin, darker
than it), and the back of a head is hair.

:func:`find_face` looks inside a head box (where the fitted proxy puts the head, widened):

1. **Skin**: a chroma range of YCrCb that holds painted skin from pale to dark brown (the
   classic skin box, measured on the drawings in ``../shared/drawn/``: every face lands
   in it, line art and most hair do not), lightness above the line art's.
2. **The face**: the largest skin region in the box; its convex hull is the face's outline.
3. **Features**: blobs inside that hull that are not skin, not the hair's colour, of another
   colour than the skin and mostly surrounded by it (eyes, brows, the mouth; a neck or an
   arm has none). One is enough for a profile.

It returns a :class:`DrawnFace`: ``face`` (skin with features), ``back`` (the head shows
almost no skin: hair, a hood, a hat seen from behind), or ``unknown`` (skin without
features, or no head to look at); and where the face sits across the head, which tells a
turn to the picture's left from one to its right.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from avatar_app.fit.drawing import Drawing
from avatar_app.fit.landmarks import DrawnLandmarks
from avatar_app.fit.proxy import ProxyModel, ViewParams
from avatar_app.io.sheet import prepare_view

#: the drawing is looked at this size (a full-body drawing's eyes are a few pixels at the fit's 256)
FACE_SIZE = 512
#: the head box: the proxy's head widened by these shares of its width / height (sides, top, bottom)
BOX_MARGINS = (0.2, 0.1, 0.05)
FACE_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right")
LANDMARK_VISIBILITY = 0.3  # drawn faces score low with mediapipe yet its points mostly sit on the head
LOWER_BOX = 0.6  # a face not told in the head box is looked for again this much lower down
# the skin box in OpenCV's 8-bit YCrCb
SKIN_CR = (135, 180)
SKIN_CB = (75, 132)
SKIN_MIN_Y = 45
#: the face's skin must cover this share of the head box (else: the back of a head)
FACE_MIN_SHARE = 0.06
#: ... and below this share there is no face at all
BACK_MAX_SHARE = 0.03
#: features a face in the hair's own colour needs (a 3/4 back view in peach hair shows an ear's two)
BALD_MIN_FEATURES = 3
#: skin without features on less than this share of the head is a nape or an ear, seen from behind
#: (the rig's held-out back views: 0.05-0.11; its front and 3/4 views without features found: 0.14+)
NAPE_MAX_SHARE = 0.11
#: a feature's area, as a share of the face's hull
FEATURE_AREA = (0.001, 0.15)
#: a feature's colour is at least this far (CIE Lab, 8-bit units) from the face's skin: dark
#: line art, or an iris lighter than dark skin
FEATURE_DISTANCE = 25.0
#: features lie in this upper share of the face's hull (eyes about half way, a mouth at three quarters)
FEATURE_HEIGHT = 0.8
#: a feature's surroundings (those that are not features themselves) are at least this much skin
FEATURE_IN_SKIN = 0.5
#: the hair's colour is the median of this top share of the head's rows ...
HAIR_BAND = 0.08
#: ... and pixels within this CIE Lab distance of it (lightness halved: shading) are not skin
HAIR_DISTANCE = 18.0
#: the skin's and the hair's colours at least this far apart (CIE Lab, lightness halved) are told apart
#: pixel by pixel, each going to the nearer
SKIN_HAIR_APART = 6.0
#: the face's centre this far off the head's middle (share of the head's width) is a turn
TURN_OFFSET = 0.25


@dataclass(frozen=True)
class DrawnFace:
    kind: str  # "face", "back" or "unknown"
    offset: float = 0.0  # the face's centre across the head: -1 picture left .. 1 picture right
    features: int = 0  # blobs found inside the face (eyes, brows, mouth)
    skin_share: float = 0.0  # share of the head box's opaque pixels that are skin

    @property
    def turn_sign(self) -> int:
        """+1: the face turns towards the picture's left (the fit's yaw > 0), -1: right, 0: square on."""
        if self.kind != "face" or abs(self.offset) < TURN_OFFSET:
            return 0
        return 1 if self.offset < 0 else -1

    def allows(self, yaw: float) -> bool:
        """Whether a view turned by ``yaw`` degrees can show what the drawing shows."""
        facing = float(np.cos(np.radians(yaw)))
        if self.kind == "face":
            if facing < -0.17:  # beyond ~100 degrees no face is seen
                return False
            sign = self.turn_sign
            return sign == 0 or abs(yaw) < 20.0 or np.sign(np.sin(np.radians(yaw))) == sign
        if self.kind == "back":
            return facing < 0.17
        return True

    def describe(self) -> str:
        if self.kind == "face":
            where = {0: "square on", 1: "turned to the picture's left", -1: "turned to the picture's right"}
            return f"a face ({self.features} feature(s), {where[self.turn_sign]})"
        if self.kind == "back":
            return f"the back of the head (skin {100 * self.skin_share:.0f}% of the head)"
        return "no face could be told"


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """bool [H, W]: painted skin (see module docstring)."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = (ycc[..., k] for k in range(3))
    return (cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1]) & (y >= SKIN_MIN_Y)


def find_face(rgba: np.ndarray, box: tuple[float, float, float, float]) -> DrawnFace:
    """The face in straight RGBA uint8 ``rgba`` inside ``box`` = (left, top, right, bottom) pixels."""
    height, width = rgba.shape[:2]
    left, top, right, bottom = (int(round(v)) for v in box)
    left, right = max(left, 0), min(right, width)
    top, bottom = max(top, 0), min(bottom, height)
    if right - left < 8 or bottom - top < 8:
        return DrawnFace("unknown")
    crop = rgba[top:bottom, left:right]
    opaque = crop[..., 3] >= 128
    if opaque.sum() < 64:
        return DrawnFace("unknown")
    rgb = np.ascontiguousarray(crop[..., :3])
    skin = skin_mask(rgb) & opaque
    hair, hair_rgb = _hair_coloured(rgb, opaque, skin)
    found = _face_in(rgb, opaque, skin & ~hair, hair)
    if found is not None and found.kind == "unknown" and found.skin_share < NAPE_MAX_SHARE:
        return DrawnFace("back", skin_share=found.skin_share)  # a nape, an ear: no face is that small
    if found is not None:
        return found
    share = float((skin & ~hair).sum() / opaque.sum())
    if skin_mask(hair_rgb[None, None]).item():
        # the head's top is in a skin colour (peach or pink hair, a bald head): the face, if any,
        # is that colour too; features drawn into it still make it a face, none a back
        whole = _face_in(rgb, opaque, skin, np.zeros_like(hair))
        if whole is not None and whole.kind == "face" and whole.features >= BALD_MIN_FEATURES:
            return whole
    return DrawnFace("back", skin_share=share)


def _face_in(rgb: np.ndarray, opaque: np.ndarray, skin: np.ndarray, hair: np.ndarray) -> DrawnFace | None:
    """The face the largest region of ``skin`` makes (None: too little skin to be one)."""
    skin = cv2.morphologyEx(skin.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).astype(bool)
    share = float(skin.sum() / opaque.sum())
    if share < BACK_MAX_SHARE:
        return None
    count, labels, stats, _ = cv2.connectedComponentsWithStats(skin.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    face = labels == biggest
    if face.sum() < FACE_MIN_SHARE * opaque.sum():
        return DrawnFace("unknown", skin_share=share)
    hull = np.zeros(face.shape, np.uint8)
    cv2.fillPoly(hull, [cv2.convexHull(np.argwhere(face)[:, ::-1].astype(np.int32))], 1)
    hull = hull.astype(bool)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    skin_colour = np.median(lab[face], axis=0)
    distinct = np.linalg.norm(lab - skin_colour, axis=2) > FEATURE_DISTANCE
    holes = hull & ~skin & opaque & ~hair & distinct
    features = _features(holes, hull, skin)
    rows_face = np.nonzero(face.any(axis=1))[0]
    # the head's middle across the face's rows: the outline of the figure the face is part of
    # (not the box's, nor a doodle drawn beside the head)
    _, pieces = cv2.connectedComponents(opaque.astype(np.uint8), connectivity=8)
    figure = pieces == np.bincount(pieces[face]).argmax()
    band_cols = np.nonzero(figure[rows_face[0] : rows_face[-1] + 1].any(axis=0))[0]
    middle = 0.5 * (band_cols[0] + band_cols[-1])
    half = max(0.5 * (band_cols[-1] - band_cols[0]), 1.0)
    face_cols = np.nonzero(hull.any(axis=0))[0]
    offset = float(np.clip((0.5 * (face_cols[0] + face_cols[-1]) - middle) / half, -1.0, 1.0))
    return DrawnFace("face" if features else "unknown", offset, features, share)


def _hair_coloured(rgb: np.ndarray, opaque: np.ndarray, skin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bool mask, uint8 RGB colour): pixels in the colour of the head's top rows (the hair, a
    hood, a hat), which may fall in the skin box (peach, brown or pink hair) and is never the face.
    A pixel is hair when it is near that colour and nearer to it than to the skin's own colour
    (the skin box's pixels below the top rows): khaki hair over tan skin are 15 apart."""
    rows = np.nonzero(opaque.any(axis=1))[0]
    top = opaque.copy()
    top[rows[0] + max(2, int(HAIR_BAND * (rows[-1] - rows[0]))) :] = False
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    weights = np.array((0.5, 1.0, 1.0), np.float32)  # lightness halved: shading
    colour = np.median(lab[top], axis=0)
    colour_rgb = np.median(rgb[top], axis=0).astype(np.uint8)
    to_hair = np.linalg.norm((lab - colour) * weights, axis=2)
    hair = to_hair < HAIR_DISTANCE
    skin_like = skin & ~top  # ``skin``: the opaque pixels in the skin box
    below = skin_like & ~hair
    if skin_like.any():
        skin_colour = np.median(lab[below], axis=0) if below.sum() >= 16 else np.median(lab[skin_like], axis=0)
        if np.linalg.norm((skin_colour - colour) * weights) >= SKIN_HAIR_APART:
            hair &= to_hair < np.linalg.norm((lab - skin_colour) * weights, axis=2)
    return hair, colour_rgb


def _features(holes: np.ndarray, hull: np.ndarray, skin: np.ndarray) -> int:
    """How many blobs of ``holes`` are the size of a drawn eye, brow or mouth in ``hull``, sit in
    the skin (mostly surrounded by it: a gap between a collar and the neck is not) and in the
    upper ``FEATURE_HEIGHT`` of it (a neckline between bare shoulders is surrounded too)."""
    area = float(hull.sum())
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=8)
    found = 0
    ring_kernel = np.ones((5, 5), np.uint8)
    rows = np.nonzero(hull.any(axis=1))[0]
    lowest = rows[0] + FEATURE_HEIGHT * (rows[-1] - rows[0])
    for k in range(1, count):
        if centroids[k][1] > lowest:  # a neckline between the shoulders, not an eye
            continue
        share = stats[k, cv2.CC_STAT_AREA] / area
        w, h = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        if not (FEATURE_AREA[0] <= share <= FEATURE_AREA[1] and min(w, h) >= 2):
            continue
        blob = (labels == k).astype(np.uint8)
        ring = cv2.dilate(blob, ring_kernel).astype(bool) & ~blob.astype(bool) & ~holes
        if ring.any() and skin[ring].mean() >= FEATURE_IN_SKIN:
            found += 1
    return found


def head_box(model: ProxyModel, params: ViewParams, size: int) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) pixels of a ``size`` square around the posed proxy's head
    (every vertex above the neck), widened by ``BOX_MARGINS``."""
    vertices = model.vertices(params).astype(np.float64)
    head = vertices[vertices[:, 1] > model.joints(params)["neck"][1] + 0.02]
    right, up, _ = params.camera().basis()
    scale = size / (2.0 * params.half_height)
    cols = size / 2.0 + (head @ right - params.centre_x) * scale
    rows = size / 2.0 - (head @ up - params.centre_y) * scale
    width, height = cols.max() - cols.min(), rows.max() - rows.min()
    side, above, below = BOX_MARGINS
    return (
        cols.min() - side * width,
        rows.min() - above * height,
        cols.max() + side * width,
        rows.max() + below * height,
    )


def landmark_box(landmarks: DrawnLandmarks, from_size: int, size: int) -> tuple[float, float, float, float] | None:
    """The head around mediapipe's face points (nose, eyes, ears, mouth), in a ``size`` square;
    None with fewer than three of them. Where they sit is useful even when what they claim is
    not: on the back of a drawn head they still fall on the head."""
    points = [landmarks.point(n) for n in FACE_POINTS if landmarks.seen(n, from_size, LANDMARK_VISIBILITY)]
    if len(points) < 3:
        return None
    points = np.array(points) * (size / from_size)
    centre = points.mean(axis=0)
    span = max(float(np.ptp(points[:, 0])), float(np.ptp(points[:, 1])), 0.04 * size)
    return centre[0] - 1.2 * span, centre[1] - 1.4 * span, centre[0] + 1.2 * span, centre[1] + 1.0 * span


def face_of_view(
    drawing: Drawing, model: ProxyModel, params: ViewParams, landmarks: DrawnLandmarks | None = None
) -> DrawnFace:
    """The face in ``drawing`` where the proxy fitted with ``params`` has its head (and, with
    ``landmarks``, around mediapipe's face points too: before the shape search the proxy's head
    may be much smaller than an anime head). The box is the same for a view and its flipped
    twin (same outline), so either may be passed."""
    square = prepare_view(drawing.original, FACE_SIZE, source=drawing.path)
    alpha = square[..., 3:4].astype(np.float32)
    rgb = np.clip(square[..., :3].astype(np.float32) * 255.0 / np.maximum(alpha, 1.0), 0, 255).astype(np.uint8)
    box = head_box(model, params, FACE_SIZE)
    around = landmark_box(landmarks, drawing.size, FACE_SIZE) if landmarks is not None else None
    if around is not None:
        box = (min(box[0], around[0]), min(box[1], around[1]), max(box[2], around[2]), max(box[3], around[3]))
    picture = np.concatenate([rgb, square[..., 3:]], axis=2)
    found = find_face(picture, box)
    if found.kind == "unknown":  # skin without features: the box may stop above the eyes
        left, top, right, bottom = box
        lower = find_face(picture, (left, top, right, bottom + LOWER_BOX * (bottom - top)))
        if lower.kind == "face":
            return lower
    return found
