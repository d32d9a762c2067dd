"""Which side a view is drawn from: the rules the search keeps to when it turns a view round.

A silhouette cannot tell the front from the back; the drawn face can (``fit.face``), else
the file's name can, else the user says it (``fit --facing``). A view none of them speaks
for is refused with the fix rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from avatar_app.core.errors import SettingError
from avatar_app.fit.objective import ViewFit

FACING_TOLERANCE = 50.0  # degrees either side of a yaw the user gave
FACINGS = {"front": 0.0, "back": 180.0, "left": 90.0, "right": -90.0}  # left: looking to the picture's left


class FacingUnknown(SettingError):
    """A view shows no face the fit can find, no person, and its name says no side."""


def parse_facing(text: str) -> float:
    """``front``, ``back``, ``left``, ``right`` (the way the drawn character looks in the picture)
    or degrees (0 front, 90 looking to the picture's left, 180 back)."""
    word = text.strip().lower()
    if word in FACINGS:
        return FACINGS[word]
    try:
        return float(word)
    except ValueError:
        raise SettingError(
            "--facing", "front, back, left, right or degrees", repr(text), "e.g. --facing side=left"
        ) from None


def facing_rule(view: ViewFit) -> Callable[[float], bool]:
    """Which yaws the view may take: what its drawn face says (``fit.face``: a face, the back
    of a head, which way the face is turned), else what its file name says (front, side,
    back), else any; what the user said (``facing``) before all. mediapipe's nose and eyes are
    not asked: on drawings it reports them on the back of a head too."""
    if view.facing is not None:
        given = view.facing
        return lambda yaw: math.cos(math.radians(yaw - given)) > math.cos(math.radians(FACING_TOLERANCE))
    if view.face is not None and view.face.kind != "unknown":
        return view.face.allows
    named = view.drawing.name_yaw()
    if named is None:
        return lambda yaw: True
    if abs(named) <= 45.0:
        return lambda yaw: math.cos(math.radians(yaw)) > -0.17
    if abs(named) >= 135.0:
        return lambda yaw: math.cos(math.radians(yaw)) < 0.17
    return lambda yaw: True


def check_facing_known(view: ViewFit) -> None:
    """Raise ``FacingUnknown`` for a view nothing tells the side of (see module docstring)."""
    if view.facing is not None or view.landmarks is not None:
        return
    if (view.face is None or view.face.kind == "unknown") and view.drawing.name_yaw() is None:
        raise FacingUnknown(
            view.drawing.path,
            "a drawn face, a person mediapipe finds, or a side in the file name",
            "none of them: the fit cannot tell the front from the back",
            f"say it: --facing {view.drawing.name}=front (or back, left, right, degrees), "
            "or name the file front.png / back.png / side.png",
        )
