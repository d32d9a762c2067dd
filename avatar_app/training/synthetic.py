"""Synthetic training data: random variants of the default character, posed and rendered.

Item ``i`` of a :class:`SyntheticDataset` is a :class:`Sample` computed from
``(seed, split, i)`` alone, so any worker, epoch or machine gets the same arrays:

* **character**: ``pool[i % num_characters]``; character ``k`` of the train split is
  ``AvatarStyle.random(default_rng(k))``, of the val split the style of seed
  ``VAL_STYLE_OFFSET + k``. The pools depend on the split only (never on ``seed``), so
  a held-out character is never trained on, whatever seeds the two datasets use.
* **sheet**: the four canonical views of the rest pose (front, three-quarter, side,
  back: ``sheet_cameras``), rendered antialiased at twice the model size and passed
  through :func:`avatar_app.io.sheet.prepare_view`, exactly what the app does with the
  shipped default sheet (drawn at 512, loaded at 256). Like real drawings, a view is
  sometimes cut knee-up or waist-up (:data:`SHEET_FRAMING_SHARES`, drawn per view from
  the character's style seed: :func:`sheet_framings`), the body touching the bottom
  edge before ``prepare_view`` crops and centres it. The sheet UDP gets the same
  crop and square padding, resized nearest-neighbour. Views come in a random order
  (``meta["sheet_yaws"]`` and ``meta["sheet_framings"]`` say which is which); take the
  first m for m-view training.
* **target pose**: the demo motion at a random time, every humanoid joint turned a
  little further at random (within anatomical limits), run for ``RUN_IN_FRAMES`` frames
  at 30 fps first so the spring bones (tails, skirt) swing as they would live.
* **target camera**: a framing drawn with :data:`TARGET_FRAMING_SHARES` (``meta["framing"]``;
  the renderer must learn every framing the live app renders), from a random yaw (60%
  within 45 degrees of the front, the rest anywhere), placed where the live
  :class:`~avatar_app.raster.framing.FollowCamera` settles for that pose (``"full"`` is
  ``target_camera``, fixed), then zoomed and shifted a little (the follow camera's lag
  and dead zone, and framings between the named ones).
* **ground truth**: the UDP of that frame (no antialiasing; visibility exactly 0/1)
  and its colour. :attr:`RasterResult.color` is premultiplied (the shader writes
  ``rgb * a, a`` and the MSAA resolve averages premultiplied values), which is the
  ``target_rgba`` convention, so it is used as it is.

Characters and their prepared sheets are built lazily and kept (``max_cached``
characters, least recently used dropped first). The GL context is created on the first
item in the process that reads items, and released by :meth:`SyntheticDataset.close`.
DataLoader workers make their own, with one catch: Mesa's renderer threads do not survive
``fork``, so a worker forked from a process that has already rendered would hang in its
first read-back. That is refused with the fix (``multiprocessing_context="spawn"``).
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.core.frames import check_model_size
from avatar_app.raster.camera import VIEW_YAWS_DEG, yaw_view_dir
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.context import create_headless_context
from avatar_app.raster.framing import FollowCamera, RestMeasures, measure
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig import (
    Character,
    CharacterAnimator,
    DemoMotion,
    HumanoidPose,
    forward_kinematics,
)
from avatar_app.rig.default_avatar import AvatarStyle, build_default_avatar
from avatar_app.rig.humanoid import BONE_INDEX
from avatar_app.rig.quaternion import quat_from_euler, quat_multiply
from avatar_app.training.sample import Sample
from avatar_app.training.views import prepared_sheet, render_rest_views

log = logging.getLogger(__name__)

__all__ = [
    "SHEET_FRAMING_SHARES",
    "SHEET_VIEWS",
    "TARGET_FRAMING_SHARES",
    "VAL_STYLE_OFFSET",
    "SyntheticCharacter",
    "SyntheticDataset",
    "character_style",
    "sheet_framings",
]

SPLITS = ("train", "val")
VAL_STYLE_OFFSET = 1_000_000  # style seeds of the val split start here; train uses 0 .. num_characters - 1
SHEET_VIEWS = ("front", "three_quarter", "side", "back")
RUN_IN_FRAMES = 10
FRAME_DT = 1.0 / 30.0
# Spring substep: VRM's own 60 Hz (the live app uses 120 Hz for smoothness at any frame
# rate; the spring parameters are rescaled per substep, so the motion is the same) halves
# the cost of the run-in, the largest part of a sample.
SPRING_DT = 1.0 / 60.0
FRONT_SHARE = 0.6  # of target yaws within FRONT_YAW_DEG of the front
FRONT_YAW_DEG = 45.0
ZOOM_RANGE = (0.92, 1.10)  # target camera half-height factor: < 1 zooms in
SHIFT_FRACTION = 0.05  # of the frame height, up/down and sideways
# Target framings: mostly full body (every joint supervised), the rest as often as streams use them.
TARGET_FRAMING_SHARES = {"full": 0.40, "knee": 0.25, "waist": 0.20, "bust": 0.15}
# Sheet views: users' drawings are full body or cut knee/waist-up; a bust sheet shows too little body.
SHEET_FRAMING_SHARES = {"full": 0.60, "knee": 0.25, "waist": 0.15}

# Extra rotation per humanoid bone on top of the demo motion: (x, y, z) ranges in degrees,
# applied in the parent's frame. Left side only; the right side is its mirror image.
# Signs (VRM normalized bones): +x bends the knee, -x swings the thigh forward, -y bends
# the left elbow forward, +z raises the left arm / spreads the left leg.
_JITTER_DEG = {
    "hips": ((-5, 5), (-5, 5), (-5, 5)),
    "spine": ((-8, 8), (-8, 8), (-8, 8)),
    "chest": ((-8, 8), (-8, 8), (-8, 8)),
    "neck": ((-12, 12), (-12, 12), (-12, 12)),
    "head": ((-15, 15), (-15, 15), (-15, 15)),
    "leftUpperArm": ((-35, 35), (-35, 35), (-10, 35)),
    "leftLowerArm": ((-20, 20), (-35, 5), (0, 0)),
    "leftHand": ((-20, 20), (-20, 20), (-20, 20)),
    "leftUpperLeg": ((-35, 20), (-15, 15), (-5, 20)),
    "leftLowerLeg": ((0, 35), (0, 0), (0, 0)),
    "leftFoot": ((-15, 15), (-5, 5), (-5, 5)),
}


def _mirrored_jitter() -> dict[str, tuple]:
    out = dict(_JITTER_DEG)
    for bone, (x, y, z) in _JITTER_DEG.items():
        if bone.startswith("left"):  # mirroring x: the y and z angles change sign
            out["right" + bone[4:]] = (x, (-y[1], -y[0]), (-z[1], -z[0]))
    return out


JITTER_DEG = _mirrored_jitter()
_JITTER_BONES = sorted(JITTER_DEG)  # a fixed draw order
_JITTER_INDEX = np.array([BONE_INDEX[b] for b in _JITTER_BONES])
_JITTER_LOW = np.array([[r[0] for r in JITTER_DEG[b]] for b in _JITTER_BONES], dtype=np.float64)
_JITTER_HIGH = np.array([[r[1] for r in JITTER_DEG[b]] for b in _JITTER_BONES], dtype=np.float64)


def _style_seed(split: str, index: int) -> int:
    return index + (VAL_STYLE_OFFSET if split == "val" else 0)


def character_style(split: str, index: int) -> tuple[str, AvatarStyle]:
    """(character id, style) of character ``index`` of ``split``'s pool."""
    style_seed = _style_seed(split, index)
    return f"syn{style_seed:07d}", AvatarStyle.random(np.random.default_rng(style_seed))


def sheet_framings(split: str, index: int) -> tuple[str, ...]:
    """The framing of each sheet view (:data:`SHEET_VIEWS` order) of character ``index`` of ``split``.

    A stream of its own from the style seed, so the style's draws are not disturbed.
    """
    rng = np.random.default_rng(np.random.SeedSequence([_style_seed(split, index), 1]))
    names = list(SHEET_FRAMING_SHARES)
    picks = rng.choice(len(names), size=len(SHEET_VIEWS), p=list(SHEET_FRAMING_SHARES.values()))
    return tuple(names[k] for k in picks)


@dataclass
class SyntheticCharacter:
    """A built character, its animator and mesh, and its prepared rest-pose sheet."""

    character_id: str
    style: AvatarStyle
    character: Character
    animator: CharacterAnimator
    mesh: RasterMesh  # full resolution; its positions are the last rendered pose
    measures: RestMeasures  # what cameras read of the rest pose (skinning it again costs ~10 ms)
    sheet_framings: tuple[str, ...]  # per view, SHEET_VIEWS order
    sheet_rgb: np.ndarray  # uint8 [4,3,S,S] premultiplied
    sheet_alpha: np.ndarray  # uint8 [4,1,S,S]
    sheet_udp: np.ndarray  # float32 [4,4,S,S]


_rendering_pid: int | None = None  # the process that made a GL context here; a forked child inherits it


class _Renderers:
    """One GL context and two rasterizers (sheet size, model size) for one process."""

    def __init__(self, size: int, sheet_size: int, color_samples: int):
        global _rendering_pid
        if _rendering_pid is not None and _rendering_pid != os.getpid():
            raise DeviceError(
                "SyntheticDataset: expected a process without inherited OpenGL state, "
                f"found process {os.getpid()} forked from process {_rendering_pid} after that one had rendered "
                "(Mesa's renderer threads do not survive fork, so rendering here would hang). "
                "Fix: DataLoader(..., multiprocessing_context='spawn'), "
                "or read no items in the main process before the workers start, or num_workers=0"
            )
        started = time.perf_counter()
        self.pid = _rendering_pid = os.getpid()
        self.ctx = create_headless_context()
        self.sheet = Rasterizer(sheet_size, ctx=self.ctx, color_samples=4)
        self.target = Rasterizer(size, ctx=self.ctx, color_samples=color_samples)
        log.info("synthetic data: GL context and rasterizers ready in %.0f ms", 1000 * (time.perf_counter() - started))

    def activate(self) -> None:
        self.ctx.__enter__()  # make it current: another context may have been used in this thread since

    def close(self) -> None:
        if os.getpid() != self.pid:  # a forked copy: the GL objects belong to the parent
            return
        self.activate()
        self.sheet.close()
        self.target.close()
        self.ctx.release()


class SyntheticDataset:
    """Map-style dataset of :class:`Sample` s (see the module docstring).

    ``size`` is the model size (a multiple of 128). ``views`` sheet views per sample
    (1..4). ``length`` defaults to 64 samples per character. ``color_samples`` is the
    MSAA of the target colour: 0 (default) draws it in the UDP pass, so its alpha is the
    UDP mask exactly, with aliased edges; 4 antialiases it like a drawing, which costs
    ~25 ms more per sample on a CPU GL driver (llvmpipe), next to nothing on a GPU.
    ``pose_jitter`` scales the random extra joint rotations (0 = the demo motion as is).
    """

    def __init__(
        self,
        size: int = 256,
        split: str = "train",
        num_characters: int = 64,
        seed: int = 0,
        views: int = 4,
        length: int | None = None,
        *,
        color_samples: int = 0,
        pose_jitter: float = 1.0,
        max_cached: int = 256,
    ):
        self.size = check_model_size(size, "SyntheticDataset size")
        if split not in SPLITS:
            raise SettingError("SyntheticDataset split", f"one of {SPLITS}", repr(split), "use 'train' or 'val'")
        if not (isinstance(num_characters, int) and 1 <= num_characters <= VAL_STYLE_OFFSET):
            raise SettingError(
                "SyntheticDataset num_characters",
                f"an integer in [1, {VAL_STYLE_OFFSET}]",
                repr(num_characters),
                "use e.g. 64",
            )
        if not (isinstance(views, int) and 1 <= views <= len(SHEET_VIEWS)):
            raise SettingError("SyntheticDataset views", f"1 to {len(SHEET_VIEWS)} sheet views", repr(views), "use 4")
        length = num_characters * 64 if length is None else length
        if not (isinstance(length, int) and length >= 1):
            raise SettingError(
                "SyntheticDataset length", "a positive number of samples", repr(length), "leave it unset"
            )
        if not (isinstance(color_samples, int) and color_samples >= 0):
            raise SettingError(
                "SyntheticDataset color_samples",
                "0 (aliased) or an MSAA sample count",
                repr(color_samples),
                "use 0 or 4",
            )
        if not (isinstance(max_cached, int) and max_cached >= 1):
            raise SettingError(
                "SyntheticDataset max_cached", "a positive number of characters", repr(max_cached), "use e.g. 256"
            )
        self.split, self.num_characters, self.seed, self.views, self.length = (
            split,
            num_characters,
            int(seed),
            views,
            length,
        )
        self.color_samples, self.pose_jitter, self.max_cached = color_samples, float(pose_jitter), max_cached
        self.motion = DemoMotion()
        self._characters: OrderedDict[int, SyntheticCharacter] = OrderedDict()
        self._renderers: _Renderers | None = None

    # -- the dataset protocol ------------------------------------------------

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        if not (isinstance(index, (int, np.integer)) and -self.length <= index < self.length):
            raise IndexError(f"SyntheticDataset: index {index!r} out of range for {self.length} samples")
        index = int(index) % self.length
        renderers = self._ready_renderers()
        cached = self.character(index % self.num_characters)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(self.split), index]))

        order = rng.permutation(len(SHEET_VIEWS))[: self.views]
        time_s = float(rng.uniform(0.0, self.motion.duration))
        jitter = self._jitter(rng)
        yaw = float(
            rng.uniform(-FRONT_YAW_DEG, FRONT_YAW_DEG) if rng.random() < FRONT_SHARE else rng.uniform(-180.0, 180.0)
        )
        zoom = float(rng.uniform(*ZOOM_RANGE))
        shift = rng.uniform(-SHIFT_FRACTION, SHIFT_FRACTION, size=2)
        framing = str(rng.choice(list(TARGET_FRAMING_SHARES), p=list(TARGET_FRAMING_SHARES.values())))

        cached.mesh.update(self._pose_vertices(cached.animator, time_s, jitter))
        joints = cached.animator.world_matrices[:, :3, 3]
        camera = self._camera(cached.measures, joints, framing, yaw, zoom, shift)
        renderers.activate()
        result = renderers.target.render(cached.mesh, camera)
        return Sample(
            sheet_rgb=cached.sheet_rgb[order],
            sheet_alpha=cached.sheet_alpha[order],
            sheet_udp=cached.sheet_udp[order],
            target_udp=np.ascontiguousarray(result.udp.transpose(2, 0, 1)),
            target_rgba=np.ascontiguousarray(np.clip(result.color, 0.0, 1.0).transpose(2, 0, 1)),
            character=cached.character_id,
            meta={
                "index": index,
                "split": self.split,
                "sheet_yaws": [VIEW_YAWS_DEG[SHEET_VIEWS[k]] for k in order],
                "sheet_framings": [cached.sheet_framings[k] for k in order],
                "framing": framing,
                "target_yaw": yaw,
                "time_s": time_s,
                "zoom": zoom,
                "shift": tuple(float(v) for v in shift),
            },
        )

    def character(self, k: int) -> SyntheticCharacter:
        """Character ``k`` of this split's pool, built and its sheet prepared on first use."""
        cached = self._characters.get(k)
        if cached is not None:
            self._characters.move_to_end(k)
            return cached
        started = time.perf_counter()
        character_id, style = character_style(self.split, k)
        character = build_default_avatar(style)
        mesh = raster_mesh(character, reduction=0.0)  # the exact mesh: this is ground truth
        framings = sheet_framings(self.split, k)
        renderers = self._ready_renderers()
        rgb, alpha, udp = self._sheet(renderers, character, mesh, framings)
        cached = SyntheticCharacter(
            character_id,
            style,
            character,
            CharacterAnimator(character, spring_dt=SPRING_DT),
            mesh,
            measure(character),
            framings,
            rgb,
            alpha,
            udp,
        )
        self._characters[k] = cached
        while len(self._characters) > self.max_cached:
            self._characters.popitem(last=False)
        log.info("synthetic character %s ready in %.2f s", character_id, time.perf_counter() - started)
        return cached

    def sheet_views(self, k: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Character ``k``'s sheet as drawn files would hold it, before ``prepare_view``:
        ``(name, straight RGBA uint8 [2S,2S,4], UDP float32 [2S,2S,4])`` per view, in
        :data:`SHEET_VIEWS` order, named like the shipped default sheet (``0_front`` ...)."""
        cached = self.character(k)
        renderers = self._ready_renderers()
        try:
            return self._render_sheet(renderers, cached.character, cached.mesh, cached.sheet_framings)
        finally:
            renderers.sheet.forget(cached.mesh)

    def close(self) -> None:
        """Release the GL context and the cached characters."""
        if self._renderers is not None:
            self._renderers.close()
            self._renderers = None
        self._characters.clear()

    def __enter__(self) -> SyntheticDataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        """Pickled for DataLoader workers without GL state or caches; each worker builds its own."""
        state = self.__dict__.copy()
        state["_renderers"] = None
        state["_characters"] = OrderedDict()
        return state

    # -- internals -------------------------------------------------------------

    def _ready_renderers(self) -> _Renderers:
        if self._renderers is None or self._renderers.pid != os.getpid():
            self._characters.clear()  # their meshes' GL buffers lived in the other context
            self._renderers = _Renderers(self.size, 2 * self.size, self.color_samples)
        return self._renderers

    def _sheet(self, renderers: _Renderers, character, mesh, framings):
        """The four rest-pose views, prepared to size like a loaded sheet: rgb, alpha, udp arrays."""
        drawn = self._render_sheet(renderers, character, mesh, framings)
        renderers.sheet.forget(mesh)
        return prepared_sheet(drawn, self.size, source=f"{character.name} sheet")

    @staticmethod
    def _render_sheet(renderers: _Renderers, character, mesh, framings) -> list[tuple[str, np.ndarray, np.ndarray]]:
        renderers.activate()
        return render_rest_views(renderers.sheet, character, mesh, SHEET_VIEWS, framings)

    def _jitter(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(bone indices, quaternions) of the extra rotations of one sample."""
        angles = np.radians(rng.uniform(_JITTER_LOW, _JITTER_HIGH) * self.pose_jitter)  # [B, 3] x, y, z
        return _JITTER_INDEX, quat_from_euler(angles[:, ::-1], "ZYX")

    def _pose_vertices(self, animator: CharacterAnimator, time_s: float, jitter) -> np.ndarray:
        """Run the animator through the run-in frames ending at ``time_s``; the last frame's vertices.

        Only the last frame is skinned: the earlier ones just move the spring bones.
        """
        animator.reset()
        skeleton = animator.character.skeleton
        for k in range(RUN_IN_FRAMES):
            pose = self._jittered(self.motion.pose_at(time_s - (RUN_IN_FRAMES - 1 - k) * FRAME_DT), jitter)
            if k == RUN_IN_FRAMES - 1:
                return animator.update(pose, FRAME_DT)
            if animator.springs is not None:
                local = animator.pose_for(pose)
                animator.springs.step(local, forward_kinematics(skeleton, local), FRAME_DT)
        raise AssertionError("unreachable")

    @staticmethod
    def _jittered(pose: HumanoidPose, jitter) -> HumanoidPose:
        bones, quats = jitter
        rotations = pose.rotations.copy()
        rotations[bones] = quat_multiply(quats, rotations[bones])
        return HumanoidPose(rotations, pose.hips_translation)

    @staticmethod
    def _camera(measures: RestMeasures, joints: np.ndarray, framing: str, yaw: float, zoom: float, shift: np.ndarray):
        camera = FollowCamera(measures, framing, view_dir=yaw_view_dir(yaw)).settled(joints)
        right, up, _ = camera.basis()
        half_height = camera.half_height * zoom
        offset = (shift[0] * right + shift[1] * up) * 2.0 * camera.half_height
        return replace(
            camera,
            eye=tuple(np.asarray(camera.eye) + offset),
            target=tuple(np.asarray(camera.target) + offset),
            half_height=float(half_height),
        )
