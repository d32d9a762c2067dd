"""A drawn look for the colour pass: what a character's picture is made of, per fragment.

The per-vertex colours of a proxy mesh (vertices ~1 cm apart) turn an eye into a blob and a
stripe into a smear. Here colour is a function of the fragment's *rest-pose position*,
which the rasterizer interpolates exactly like the UDP: any function of it is a texture as
sharp as the raster. :class:`DrawnStyle` is the artist (line weight, cel shadow colour,
eye shape, mouth, trims ...), :func:`drawn_look` binds one to one character's mesh:

* **materials**: each vertex gets its distance to the nearest vertex of every material
  (skin, hair, top, skirt, shorts, socks, shoes, eye) on the same connected surface.
  Interpolated and argmin'ed per fragment, the border between two materials runs straight
  through the triangles instead of smearing across them, and its distance gives seams and
  trims (hems, cuffs, collars, sock bands) of a fixed width in metres.
* **face**: eyes (white, iris with a gradient, pupil, highlights, upper and lower lashes),
  brows, nose, mouth and blush, placed from the rig's own eye discs (parts ``eye_white``
  and ``iris``) and chin; the eye discs become a canvas the shader paints on.
* **surfaces**: a ``contour group`` per connected piece of hair or skirt (the body's pieces,
  eye discs included, are one group) lets the edge pass draw contours where such a piece
  passes in front of another surface; elsewhere contours come from jumps in rest position.

Plain numpy: the GL side is :mod:`avatar_app.raster.drawn_pass`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from avatar_app.core.errors import InputError, SettingError

log = logging.getLogger(__name__)

__all__ = [
    "BROW_KINDS",
    "COLLAR_KINDS",
    "EXTRA_PATTERNS",
    "EYE_SHAPES",
    "MATERIALS",
    "MOUTH_KINDS",
    "DrawnLook",
    "DrawnStyle",
    "FaceGeometry",
    "drawn_look",
]

MATERIALS = ("skin", "hair", "top", "skirt", "shorts", "socks", "shoes", "eye")
# Other part names are materials themselves. The eyelids are skin the face is painted on (a
# closed lid shows its rest position's drawing); the mouth's inside is hidden at rest.
PART_MATERIAL = {"eye_white": "eye", "iris": "eye", "eyelid": "skin", "mouth": "skin"}
FIELD_MAX_M = 0.06
SMOOTHING_ROUNDS = 3  # material distances are clamped here (trims and seams need a few cm)
PATTERN_CODES = {"plain": 0, "stripes_h": 1, "stripes_v": 2, "checks": 3, "split": 4, "dots": 5, "plaid": 6}
EXTRA_PATTERNS = ("none", "dots", "plaid")  # laid on a plain part by the drawn style
# eye shape: (upper lid height, lower lid depth, outer-corner lift, width) in units of the rig's eye disc
EYE_SHAPES = {
    "round": (0.78, 0.72, 0.0, 1.0),
    "tall": (0.92, 0.8, 0.05, 0.9),
    "narrow": (0.5, 0.45, 0.12, 1.08),
    "droopy": (0.7, 0.62, -0.18, 1.0),
    "sharp": (0.62, 0.5, 0.28, 1.05),
}
MOUTH_KINDS = ("smile", "open", "cat", "small", "frown")
BROW_KINDS = ("thin", "thick", "straight")
COLLAR_KINDS = ("none", "v_neck", "sailor", "ribbon")

Rgb = tuple[float, float, float]


@dataclass(frozen=True)
class DrawnStyle:
    """How one artist draws: lines, cel shading, the face, details on the clothes.

    ``line_weight`` is in pixels of a 256-pixel-high picture (it scales with the picture,
    like a pen on paper; 0 draws no lines); a line's colour mixes ``line_color`` and the
    darkened colour under it by ``line_tint``. ``shadow_steps`` hard steps (0, 1 or 2) of
    ``shadow_tint`` (a multiplier) where the light from ``light`` (camera space: right, up,
    towards the viewer) falls below ``shadow_cut``. ``saturation`` scales every colour's
    saturation. The face and clothes fields pick from the tables of this module.
    """

    line_weight: float = 1.3
    line_color: Rgb = (0.16, 0.09, 0.12)
    line_tint: float = 0.45
    shadow_tint: Rgb = (0.8, 0.72, 0.86)
    shadow_cut: float = 0.12
    shadow_steps: int = 1
    light: tuple[float, float, float] = (-0.45, 0.55, 0.7)
    saturation: float = 1.0
    eye_shape: str = "round"
    eye_size: float = 1.2
    iris_size: float = 1.0
    highlights: int = 2
    lash_weight: float = 1.0
    brows: str = "thin"
    mouth: str = "smile"
    blush: bool = True
    hair_strands: int = 14
    hair_shine: bool = True
    trims: bool = True
    trim_color: Rgb = (0.97, 0.96, 0.92)
    collar: str = "none"
    buttons: bool = False
    pleats: int = 0
    top_extra: str = "none"
    skirt_extra: str = "none"
    extra_color: Rgb = (1.0, 1.0, 1.0)

    def __post_init__(self):
        choices = {
            "eye_shape": tuple(EYE_SHAPES),
            "mouth": MOUTH_KINDS,
            "brows": BROW_KINDS,
            "collar": COLLAR_KINDS,
            "top_extra": EXTRA_PATTERNS,
            "skirt_extra": EXTRA_PATTERNS,
        }
        for name, options in choices.items():
            if getattr(self, name) not in options:
                raise SettingError(f"DrawnStyle.{name}", f"one of {options}", repr(getattr(self, name)), "pick one")
        if self.shadow_steps not in (0, 1, 2):
            raise SettingError("DrawnStyle.shadow_steps", "0, 1 or 2", repr(self.shadow_steps), "use 1")
        if not (0.0 <= self.line_weight <= 6.0):
            raise SettingError("DrawnStyle.line_weight", "0 to 6 pixels at 256", repr(self.line_weight), "use 1.3")


@dataclass(frozen=True)
class FaceGeometry:
    """Where the face is on the rest pose (metres): the +x eye's centre and the rig disc's radii."""

    eye_centre: tuple[float, float, float]
    eye_radius: tuple[float, float]
    chin_y: float
    neck_y: float
    head_centre: tuple[float, float, float]

    @property
    def scale(self) -> float:
        """The head's size relative to the shipped one (its eye disc is 13.5 mm wide)."""
        return self.eye_radius[0] / 0.0135


@dataclass(frozen=True, eq=False)
class DrawnLook:
    """A :class:`DrawnStyle` bound to one mesh: per-vertex arrays and the shader's uniforms.

    ``rest_m`` float32 [V,3] rest positions (metres), ``fields`` float32 [V,8] distance to
    each of :data:`MATERIALS`, ``groups`` float32 [V] contour group. ``uniforms`` maps
    GLSL uniform names to values (see :mod:`avatar_app.raster.drawn_glsl`).
    """

    rest_m: np.ndarray
    fields: np.ndarray
    groups: np.ndarray
    uniforms: dict = field(default_factory=dict)
    style: DrawnStyle = field(default_factory=DrawnStyle)

    @property
    def num_vertices(self) -> int:
        return self.rest_m.shape[0]


def material_fields(rest: np.ndarray, triangles: np.ndarray, materials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fields [V,8], component [V]): per vertex the distance to each material on its own surface."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    count = len(rest)
    rows = np.concatenate([triangles[:, 0], triangles[:, 1], triangles[:, 2]])
    cols = np.concatenate([triangles[:, 1], triangles[:, 2], triangles[:, 0]])
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    adjacency = (graph + graph.T).tocsr()
    adjacency.data[:] = 1.0
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).reshape(-1), 1.0)[:, None]
    fields = np.full((count, len(MATERIALS)), FIELD_MAX_M, np.float32)
    fields[np.arange(count), materials] = 0.0
    for c in np.unique(component):
        members = np.nonzero(component == c)[0]
        present = np.unique(materials[members])
        if len(present) < 2:
            continue
        for m in present:
            source = members[materials[members] == m]
            others = members[materials[members] != m]
            dist, _ = cKDTree(rest[source]).query(rest[others], distance_upper_bound=FIELD_MAX_M)
            fields[others, m] = np.minimum(dist, FIELD_MAX_M)
    # The rig's labels step from vertex to vertex: a few rounds of neighbour averaging make the
    # borders (zero crossings between two fields) smooth curves instead of zig-zags.
    for _ in range(SMOOTHING_ROUNDS):
        fields = 0.5 * (fields + (adjacency @ fields) / degree).astype(np.float32)
    return fields, component


def vertex_materials(part_ids: np.ndarray, part_names) -> np.ndarray:
    """[V] index into :data:`MATERIALS` of each vertex; unknown parts draw as skin (logged)."""
    lut = []
    for name in part_names:
        material = PART_MATERIAL.get(name, name)
        if material not in MATERIALS:
            log.debug("drawn look: part %r has no material of its own; drawn as skin", name)
            material = "skin"
        lut.append(MATERIALS.index(material))
    return np.asarray(lut, dtype=np.int64)[np.asarray(part_ids, dtype=np.int64)]


def face_geometry(character, chin_y: float, neck_y: float | None = None) -> FaceGeometry:
    """The face of a rig with ``eye_white`` and ``iris`` parts (its rest pose); ``chin_y`` from the rig."""
    mesh = character.mesh
    names = list(mesh.part_names)
    if "eye_white" not in names or mesh.part_ids is None:
        raise InputError(
            "drawn_look(character)",
            "a character with 'eye_white' and 'iris' parts (the rig's eye discs)",
            f"parts {names}",
            "draw this character with per-vertex colours (no look)",
        )
    rest = character.rest_vertices().astype(np.float64)
    whites = rest[(mesh.part_ids == names.index("eye_white")) & (rest[:, 0] > 0)]
    lo, hi = whites.min(axis=0), whites.max(axis=0)
    centre = 0.5 * (lo + hi)
    centre[2] = whites[:, 2].max()
    joints = character.skeleton.rest_world_matrices[:, :3, 3]
    head = joints[character.humanoid["head"]]
    if neck_y is None:
        neck_y = float(joints[character.humanoid["neck"], 1])
    head_centre = (0.0, float(centre[1]) + 0.012 * (hi[0] - lo[0]) / 0.027, float(head[2]))
    return FaceGeometry(
        tuple(float(v) for v in centre),
        (float(hi[0] - lo[0]) / 2, float(hi[1] - lo[1]) / 2),
        float(chin_y),
        float(neck_y),
        head_centre,
    )


def _saturated(rgb, factor: float) -> tuple[float, float, float]:
    rgb = np.asarray(rgb, dtype=np.float64)
    grey = rgb.mean()
    return tuple(float(v) for v in np.clip(grey + factor * (rgb - grey), 0.0, 1.0))


def drawn_look(character, style, drawn: DrawnStyle, face: FaceGeometry) -> DrawnLook:
    """``drawn`` bound to ``character``'s full-resolution mesh; ``style`` is its AvatarStyle (palette, patterns)."""
    mesh = character.mesh
    rest = character.rest_vertices().astype(np.float32)
    materials = vertex_materials(mesh.part_ids, mesh.part_names)
    fields, component = material_fields(rest, np.asarray(mesh.triangles), materials)
    # Contour groups: hair and skirt pieces are outlined wherever they pass in front of anything
    # else; the body's own pieces (the mannequin's joint balls, the eye discs) are one surface,
    # outlined only where the rest position jumps (an arm in front of the chest).
    separate = np.isin(materials, [MATERIALS.index("hair"), MATERIALS.index("skirt")])
    groups = np.where(separate, component + 1, 0).astype(np.float32)

    sat = drawn.saturation
    palette = style.palette
    colors = [_saturated(palette.get(m, palette["skin"]), sat) for m in MATERIALS[:-1]]
    colors.append(_saturated(palette["eye_white"], 1.0))
    patterns, pattern_colors = [], []
    for pattern, extra in ((style.top_pattern, drawn.top_extra), (style.skirt_pattern, drawn.skirt_extra)):
        kind, color = pattern.kind, pattern.color
        if kind == "plain" and extra != "none":
            kind, color = extra, drawn.extra_color
        patterns.append((PATTERN_CODES[kind], pattern.period_m, pattern.phase, 0.0))
        pattern_colors.append(_saturated(color, sat))
    socks = style.socks_pattern
    patterns.append((PATTERN_CODES[socks.kind], socks.period_m, socks.phase, 0.0))
    pattern_colors.append(_saturated(socks.color, sat))

    skirt_rows = rest[materials == MATERIALS.index("skirt")]
    hem_y, waist_y = (float(skirt_rows[:, 1].min()), float(skirt_rows[:, 1].max())) if len(skirt_rows) else (-1.0, -1.0)
    hips = character.skeleton.rest_world_matrices[character.humanoid["hips"], :3, 3]
    top, bottom, lift, width = EYE_SHAPES[drawn.eye_shape]
    iris = np.asarray(palette["iris"], dtype=np.float64)
    uniforms = {
        "colors": colors,
        "pattern_params": patterns,
        "pattern_colors": pattern_colors,
        "trim_color": _saturated(drawn.trim_color, sat),
        "trims": int(drawn.trims),
        "skirt_span": (hem_y, waist_y, float(hips[2]), float(drawn.pleats)),
        "shadow_tint": tuple(float(v) for v in drawn.shadow_tint),
        "shadow_cut": float(drawn.shadow_cut),
        "shadow_steps": int(drawn.shadow_steps),
        "eye_centre": face.eye_centre,
        "eye_unit": (face.eye_radius[0] * drawn.eye_size * width, face.eye_radius[1] * drawn.eye_size),
        "eye_shape": (top, bottom, lift, drawn.iris_size),
        "iris_color": _saturated(iris, sat),
        "iris_dark": tuple(float(v) for v in np.clip(iris * 0.38, 0, 1)),
        "eye_details": (float(drawn.highlights), float(drawn.lash_weight), float(BROW_KINDS.index(drawn.brows)), 0.0),
        "face_span": (face.chin_y, face.neck_y, face.scale, float(drawn.blush)),
        "mouth_kind": MOUTH_KINDS.index(drawn.mouth),
        "head_centre": face.head_centre,
        "hair_details": (float(drawn.hair_strands), float(drawn.hair_shine), 0.0, 0.0),
        "collar": (float(COLLAR_KINDS.index(drawn.collar)), float(drawn.buttons), 0.0, 0.0),
    }
    return DrawnLook(rest, fields, groups, uniforms, drawn)


def simple_look(rest_m, triangles, materials, palette: dict, drawn: DrawnStyle | None = None) -> DrawnLook:
    """A look without a face for any mesh: ``materials`` [V] indexes :data:`MATERIALS`, ``palette``
    maps material names to sRGB (missing ones grey). Patterns, trims and hair strands off."""
    drawn = DrawnStyle(hair_strands=0, hair_shine=False, trims=False) if drawn is None else drawn
    rest = np.ascontiguousarray(rest_m, dtype=np.float32)
    materials = np.asarray(materials, dtype=np.int64)
    fields, component = material_fields(rest, np.asarray(triangles, dtype=np.int64), materials)
    uniforms = {
        "colors": [tuple(float(v) for v in palette.get(m, (0.5, 0.5, 0.5))) for m in MATERIALS],
        "pattern_params": [(0.0, 0.1, 0.0, 0.0)] * 3,
        "pattern_colors": [(1.0, 1.0, 1.0)] * 3,
        "skirt_span": (-1.0, -1.0, 0.0, 0.0),
        "shadow_tint": tuple(float(v) for v in drawn.shadow_tint),
        "shadow_cut": float(drawn.shadow_cut),
        "shadow_steps": int(drawn.shadow_steps),
        "eye_centre": (0.0, 0.0, 1e6),  # no face anywhere
        "eye_unit": (1.0, 1.0),
        "face_span": (1e6, 0.0, 1.0, 0.0),
        "hair_details": (float(drawn.hair_strands), float(drawn.hair_shine), 0.0, 0.0),
        "trims": int(drawn.trims),
    }
    return DrawnLook(rest, fields, component.astype(np.float32), uniforms, drawn)
