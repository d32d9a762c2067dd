"""One training/evaluation example, the contract between datasets, training and evaluation.

Every dataset (synthetic or a folder of real data) yields :class:`Sample` s; ``collate``
stacks equal-view-count samples into a :class:`Batch` of torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Sample"]


@dataclass
class Sample:
    """M sheet views of one character plus one target pose and its ground truth.

    Sheet views are prepared exactly like :func:`avatar_app.io.sheet.prepare_view`
    (premultiplied like the reference, cropped to the alpha box, padded square,
    resized), so the network sees at training time what the app feeds it.
    """

    sheet_rgb: np.ndarray  # uint8 [M,3,S,S], premultiplied (CharacterSheet.rgb_premultiplied)
    sheet_alpha: np.ndarray  # uint8 [M,1,S,S]
    sheet_udp: np.ndarray | None  # float32 [M,4,S,S] xyz + mask on the same crop; None if unknown
    target_udp: np.ndarray  # float32 [4,S,S] rest-pose xyz in [0,1] + visibility (0/1)
    target_rgba: np.ndarray  # float32 [4,S,S] premultiplied RGBA in [0,1]
    character: str = ""  # character id (held-out split is by character)
    meta: dict = field(default_factory=dict)  # e.g. target_yaw, sheet_yaws (degrees)

    @property
    def num_views(self) -> int:
        return self.sheet_rgb.shape[0]

    @property
    def size(self) -> int:
        return self.sheet_rgb.shape[-1]
