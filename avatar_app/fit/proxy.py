"""The proxy being fitted: a style's character, posed and framed per view, and its silhouette.

A view is described by :class:`ViewParams`: the camera (yaw about the vertical axis, an
orthographic half height and the point it is centred on) and a small pose, the one a
standing character in a drawing has: each upper arm's angle below horizontal, each
forearm's further bend, the legs' spread and the head's tilt, all in the frontal plane.
That is all a silhouette can pin down; the rest of the body stays at rest. An arm drawn over
the body (crossed, a hand on the belly, behind the back) leaves the silhouette: its segments
also tilt towards the front or the back (``*_forward``), set from the drawing's landmarks
(``fit.arm_depth``), never by the silhouette search.

:class:`ProxyModel` builds a style's character once (the fitter tries many views of one
shape, and a build takes a tenth of a second) and poses it; :class:`Silhouettes` renders
masks at the fit's working size with one GL context.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace

import numpy as np

from avatar_app.raster.camera import OrthographicCamera, yaw_view_dir
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig import HumanoidPose, HumanoidRig, build_default_avatar
from avatar_app.rig.avatar_style import AvatarStyle
from avatar_app.rig.quaternion import quat_conjugate, quat_from_axis_angle, quat_multiply, quat_rotate
from avatar_app.rig.skeleton import forward_kinematics

Z = np.array([0.0, 0.0, 1.0])
HAIR_PARTS = ("hair",)


@dataclass(frozen=True)
class ViewParams:
    """Camera and pose of one view (see module docstring); angles in degrees, lengths in metres."""

    yaw: float = 0.0
    half_height: float = 1.0
    centre_x: float = 0.0  # along the camera's right axis
    centre_y: float = 1.0
    left_arm: float = 40.0  # below horizontal; 40 = the rest A-pose, 90 = hanging straight down
    right_arm: float = 40.0
    left_elbow: float = 0.0  # the forearm's further turn down (positive) or up
    right_elbow: float = 0.0
    legs: float = 0.0  # each leg's turn outward
    head_tilt: float = 0.0  # towards the character's right shoulder
    # each segment's tilt out of the frontal plane, towards the character's front (negative: back)
    left_arm_forward: float = 0.0
    right_arm_forward: float = 0.0
    left_elbow_forward: float = 0.0
    right_elbow_forward: float = 0.0

    def camera(self) -> OrthographicCamera:
        view_dir = yaw_view_dir(self.yaw)
        right = np.cross(-view_dir, [0.0, 1.0, 0.0])
        target = self.centre_x * right + np.array([0.0, self.centre_y, 0.0])
        return OrthographicCamera(
            eye=tuple(target + 10.0 * view_dir), target=tuple(target), half_height=self.half_height, near=0.1, far=20.0
        )

    def humanoid_pose(self) -> HumanoidPose:
        def turn(deg: float) -> np.ndarray:
            return quat_from_axis_angle(Z, math.radians(deg))

        arms = {
            "leftUpperArm": turn(-self.left_arm),
            "rightUpperArm": turn(self.right_arm),
            "leftLowerArm": turn(-self.left_elbow),
            "rightLowerArm": turn(self.right_elbow),
        }
        for side, sign in (("left", -1.0), ("right", 1.0)):
            upper_fwd, lower_fwd = getattr(self, f"{side}_arm_forward"), getattr(self, f"{side}_elbow_forward")
            if upper_fwd or lower_fwd:
                upper = _tilted(turn(sign * getattr(self, f"{side}_arm")), sign, upper_fwd)
                lower_angle = getattr(self, f"{side}_arm") + getattr(self, f"{side}_elbow")
                lower = _tilted(turn(sign * lower_angle), sign, lower_fwd)
                arms[f"{side}UpperArm"] = upper
                arms[f"{side}LowerArm"] = quat_multiply(quat_conjugate(upper), lower)  # local to the upper arm
        return HumanoidPose.from_bones(
            {
                **arms,
                "leftUpperLeg": turn(self.legs),
                "rightUpperLeg": turn(-self.legs),
                "leftLowerLeg": turn(-self.legs),
                "rightLowerLeg": turn(self.legs),
                "head": turn(-self.head_tilt),
            }
        )

    def to_dict(self) -> dict:
        return {k: round(float(v), 5) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> ViewParams:
        return cls(**{k: float(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    def with_values(self, **values) -> ViewParams:
        return replace(self, **values)


def _tilted(frontal: np.ndarray, sign: float, forward_deg: float) -> np.ndarray:
    """A segment's world rotation ``frontal`` (in the frontal plane) tilted by ``forward_deg``
    towards +z, the character's front, about the axis across the segment and z. A left
    segment's rest direction is +x, a right one's -x (``sign`` -1 and +1)."""
    direction = quat_rotate(frontal, np.array([-sign, 0.0, 0.0]))
    axis = np.cross(direction, Z)
    return quat_multiply(quat_from_axis_angle(axis / np.linalg.norm(axis), math.radians(forward_deg)), frontal)


class ProxyModel:
    """A style's character (built once), posed by :class:`ViewParams`."""

    def __init__(self, style: AvatarStyle):
        self.style = style
        self.character = build_default_avatar(style)
        self.rig = HumanoidRig(self.character.skeleton)
        self._names = self.character.skeleton.names

    def pose(self, params: ViewParams):
        return self.rig.to_pose(params.humanoid_pose())

    def vertices(self, params: ViewParams) -> np.ndarray:
        return self.character.posed_vertices(self.pose(params))

    def joints(self, params: ViewParams) -> dict[str, np.ndarray]:
        """World positions of the humanoid joints in this pose."""
        world = forward_kinematics(self.character.skeleton, self.pose(params))[:, :3, 3]
        return {bone: world[j] for bone, j in self.character.humanoid.items()}

    def anchors(self, params: ViewParams, full: bool) -> tuple[float, float, float]:
        """(crown, low, middle) in the view's screen axes: the top of the head's skin (under any
        hair or ears), the feet (``full``) or the hips' joints (a cut drawing) up the screen,
        and the hips across it. Hair, clothes and accessories do not move them."""
        right, _, _ = params.camera().basis()
        skin = self.character.mesh.part_ids == self.character.mesh.part_names.index("skin")
        crown = float(self.vertices(params)[skin, 1].max())
        joints = self.joints(params)
        legs = ("leftFoot", "rightFoot") if full else ("leftUpperLeg", "rightUpperLeg")
        low = float(np.mean([joints[b][1] for b in legs]))
        return crown, low, float(joints["hips"] @ right)

    def carry(self, params: ViewParams, other: ProxyModel, full: bool) -> ViewParams:
        """``params`` for ``other`` (a new shape) so that its crown, its feet or hips and its
        hips' column land on the pixels this model's do: a taller head or body is judged
        where the drawing has it, not by how far it now pokes out of the old camera."""
        crown, low, middle = self.anchors(params, full)
        new_crown, new_low, new_middle = other.anchors(params, full)
        if new_crown - new_low < 1e-4 or crown - low < 1e-4:
            return params
        ratio = (new_crown - new_low) / (crown - low)  # world metres per old metre on screen
        return replace(
            params,
            half_height=params.half_height * ratio,
            centre_y=new_crown - (crown - params.centre_y) * ratio,
            centre_x=new_middle - (middle - params.centre_x) * ratio,
        )


class ProxyCache:
    """The last few styles' models, so the fitter's search does not rebuild a shape it just tried."""

    def __init__(self, capacity: int = 24):
        self.capacity = capacity
        self._models: OrderedDict = OrderedDict()

    def get(self, style: AvatarStyle) -> ProxyModel:
        key = repr(style)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = ProxyModel(style)
        self._models[key] = model
        if len(self._models) > self.capacity:
            self._models.popitem(last=False)
        return model


class Silhouettes:
    """Masks (and UDP maps) of posed proxies, rendered at ``size`` with one GL context."""

    def __init__(self, size: int):
        self.size = size
        self.rasterizer = Rasterizer(size)
        self._meshes: dict[object, tuple] = {}  # by the model's id: (model, its mesh), kept alive

    def _mesh(self, model: ProxyModel):
        key = id(model)
        if key not in self._meshes:
            if len(self._meshes) > 32:
                self._meshes.clear()
            self._meshes[key] = (model, hair_marked_mesh(model.character))
        return self._meshes[key][1]

    def render(self, model: ProxyModel, params: ViewParams) -> np.ndarray:
        """float32 [S, S, 4] UDP map (channel 3 is the mask) of ``model`` in ``params``."""
        mesh = self._mesh(model)
        mesh.update(model.vertices(params))
        return self.rasterizer.render(mesh, params.camera(), udp_only=True).udp.copy()

    def render_under_arms(self, model: ProxyModel, params: ViewParams) -> np.ndarray:
        """float32 [S, S, 4] UDP map of ``model`` in ``params`` without its arms: the body they hide."""
        key = ("under", id(model))
        if key not in self._meshes:
            full = raster_mesh(model.character)
            arms = arm_vertices(model.character)
            keep = ~arms[full.triangles].any(axis=1)
            self._meshes[key] = (model, RasterMesh(full.positions, full.rest_udp, full.triangles[keep]))
        mesh = self._meshes[key][1]
        mesh.update(model.vertices(params))
        return self.rasterizer.render(mesh, params.camera(), udp_only=True).udp.copy()

    def render_hair(self, model: ProxyModel, params: ViewParams) -> tuple[np.ndarray, np.ndarray]:
        """(mask, hair) float32 [S, S]: where the proxy is, and where its hair is in front."""
        return self.render_parts(model, params)[:2]

    def render_parts(self, model: ProxyModel, params: ViewParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mask, hair, arms) float32 [S, S]: where the proxy is, its hair and its arms in front."""
        mesh = self._mesh(model)
        mesh.update(model.vertices(params))
        result = self.rasterizer.render(mesh, params.camera())
        return result.udp[..., 3].copy(), result.color[..., 0].copy(), result.color[..., 1].copy()

    def close(self) -> None:
        self.rasterizer.close()

    def __enter__(self) -> Silhouettes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def hair_marked_mesh(character):
    """The character's raster mesh with colour 1 in red on its hair (and ears) and in green on
    its arms (``arm_vertices``), 0 elsewhere."""
    mesh = raster_mesh(character)
    parts = character.mesh.part_names
    hair = np.isin(character.mesh.part_ids, [parts.index(n) for n in HAIR_PARTS if n in parts])
    colors = np.zeros((len(hair), 4), np.float32)
    colors[:, 3] = 1.0
    colors[hair, 0] = 1.0
    colors[arm_vertices(character) & ~hair, 1] = 1.0
    return RasterMesh(mesh.positions, mesh.rest_udp, mesh.triangles, colors)


def arm_vertices(character) -> np.ndarray:
    """bool [V]: the vertices an arm moves (their heaviest joint is an upper arm or below it)."""
    skeleton = character.skeleton
    roots = {character.humanoid[f"{side}UpperArm"] for side in ("left", "right")}
    in_arm = np.zeros(len(skeleton.names), bool)
    for j in range(len(skeleton.names)):
        k = j
        while k >= 0 and not in_arm[j]:
            in_arm[j] = k in roots
            k = int(skeleton.parents[k])
    mesh = character.mesh
    heaviest = mesh.joints[np.arange(len(mesh.joints)), np.argmax(mesh.weights, axis=1)]
    return in_arm[heaviest]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (bool or coverage in [0, 1])."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    union = float(np.maximum(a, b).sum())
    return float(np.minimum(a, b).sum()) / union if union > 0 else 0.0
