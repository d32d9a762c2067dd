"""A character: skeleton + skinned mesh + spring-bone settings, and its UDP coordinates."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from avatar_app.rig.errors import RigFileError
from avatar_app.rig.skeleton import Pose, Skeleton, forward_kinematics
from avatar_app.rig.skinning import SkinnedMesh
from avatar_app.rig.spring_settings import SpringSettings

if TYPE_CHECKING:
    from avatar_app.rig.udp_calibration import UdpAffine

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Character:
    """Everything needed to pose and draw one avatar.

    Conventions for characters built by this package: metres, +y up, facing
    +z (+x is the character's left), feet on y=0, centred on x=z=0, rest pose
    = A-pose with identity rest rotations. Loaded glTF/VRM files keep their
    own rest pose; VRM 0.x files are turned to face +z on load.

    ``udp_calibration`` (None, a 3x4 affine or an ``UdpAffine``) is the map into another
    UDP convention that every raster of this character applies: set it (``with_udp_map``)
    when the weights it is rendered with were trained on one (``fit --weights``).
    """

    skeleton: Skeleton
    mesh: SkinnedMesh
    springs: SpringSettings = field(default_factory=SpringSettings)
    name: str = "character"
    source: str = "character"
    udp_calibration: object = None

    def __post_init__(self):
        if len(self.mesh.inverse_bind_matrices) != self.skeleton.num_joints:
            raise RigFileError(
                self.source,
                f"one inverse bind matrix per joint ({self.skeleton.num_joints})",
                f"{len(self.mesh.inverse_bind_matrices)}",
                "build the mesh against this skeleton",
            )

    @property
    def humanoid(self) -> dict[str, int]:
        return self.skeleton.humanoid

    def posed_vertices(self, pose: Pose) -> np.ndarray:
        """Skinned positions ``[V,3]`` float32 for ``pose`` (no spring bones)."""
        return self.mesh.skin(forward_kinematics(self.skeleton, pose))

    def rest_vertices(self) -> np.ndarray:
        return self.mesh.skin(self.skeleton.rest_world_matrices)

    def rest_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        v = self.rest_vertices()
        return v.min(axis=0).astype(np.float64), v.max(axis=0).astype(np.float64)

    def rest_height(self) -> float:
        lo, hi = self.rest_bounds()
        return float(hi[1] - lo[1])

    def with_springs(self, springs: SpringSettings) -> Character:
        return replace(self, springs=springs)

    def with_udp_map(self, calibration) -> Character:
        return replace(self, udp_calibration=calibration)


def rest_udp_coordinates(character: Character, calibration: UdpAffine | np.ndarray | None = None) -> np.ndarray:
    """Per-vertex UDP coordinates ``[V,3]`` float32 in [0,1] (DESIGN §4).

    ``x' = (x - cx)/H + 0.5``, ``y' = (y - y_min)/H``, ``z' = (z - cz)/H + 0.5``
    over the rest-pose vertices, with ``H`` the rest height and ``cx, cz`` the
    centre of the rest bounding box. For characters in our convention (feet on
    y=0, centred on x=z=0) this is exactly ``x/H + 0.5, y/H, z/H + 0.5``; for
    other files it first puts them in that convention. Anything wider than it
    is tall is clipped to [0,1] (logged): keep rest poses A-pose.

    ``calibration`` (3x4 or 4x4 affine, applied to ``[x', y', z', 1]``, or an
    ``UdpAffine`` from ``udp_calibration``, which fits the one the official CoNR
    weights were trained on) matches another UDP convention: an axis
    permutation, flip, scale or shift of the cube, clipped to [0,1] after it.
    ``None`` means identity.
    """
    rest = character.rest_vertices().astype(np.float64)
    lo, hi = rest.min(axis=0), rest.max(axis=0)
    height = hi[1] - lo[1]
    if height <= 0:
        raise RigFileError(character.source, "a character with positive height", f"height {height}", "check the mesh")
    centre = 0.5 * (lo + hi)
    udp = np.empty_like(rest)
    udp[:, 0] = (rest[:, 0] - centre[0]) / height + 0.5
    udp[:, 1] = (rest[:, 1] - lo[1]) / height
    udp[:, 2] = (rest[:, 2] - centre[2]) / height + 0.5
    if calibration is not None:
        affine = np.asarray(getattr(calibration, "matrix", calibration), dtype=np.float64)
        if affine.shape not in ((3, 4), (4, 4)):
            raise ValueError(f"UDP calibration must be a 3x4 or 4x4 affine, got shape {affine.shape}")
        udp = udp @ affine[:3, :3].T + affine[:3, 3]
    outside = (udp < 0.0) | (udp > 1.0)
    if np.any(outside):
        log.info(
            "%s: %d vertices outside the UDP cube (wider than tall); clipped",
            character.source,
            int(outside.any(axis=1).sum()),
        )
    return np.clip(udp, 0.0, 1.0).astype(np.float32)


def translated(character: Character, offset) -> Character:
    """The same character moved by ``offset`` (metres) in its rest pose."""
    offset = np.asarray(offset, dtype=np.float64)
    skel = character.skeleton
    roots = skel.parents < 0
    trans = skel.rest_translations.copy()
    trans[roots] += offset  # roots' locals are world transforms
    new_skel = Skeleton(skel.names, skel.parents, trans, skel.rest_rotations, skel.humanoid, skel.source)
    shift = np.eye(4)
    shift[:3, 3] = -offset
    mesh = character.mesh
    new_mesh = replace(
        mesh,
        positions=mesh.positions + offset.astype(np.float32),
        inverse_bind_matrices=mesh.inverse_bind_matrices @ shift,
    )
    return replace(character, skeleton=new_skel, mesh=new_mesh)


def recentred(character: Character, centre_x: bool = True) -> Character:
    """Move the character so its rest pose stands on y=0, centred on x=z=0 (bounding box).

    ``centre_x=False`` keeps x: for characters built mirror-symmetric about
    x=0, whose mesh is only nearly symmetric, so the plane stays exact.
    """
    lo, hi = character.rest_bounds()
    return translated(character, [-(lo[0] + hi[0]) / 2 if centre_x else 0.0, -lo[1], -(lo[2] + hi[2]) / 2])
