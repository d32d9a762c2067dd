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

That is the ``toon`` family (the default, the shipped weights' data, unchanged). With
``family="drawn"`` (:mod:`avatar_app.training.drawn_family`) the colour is a drawn look
(per-fragment faces, patterns, cel shading, lines), the sheet is drawn from a variant of
the body over the body's own UDP, pictures are augmented like drawings
(:mod:`avatar_app.training.augment`, from a stream of their own, so the draws above stay
the toon family's) and framings lean to cut ones. ``meta["face_region"]`` says where the
face is in UDP space (:func:`~avatar_app.training.drawn_family.face_mask`), both families.

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
from avatar_app.raster.drawn_look import DrawnLook
from avatar_app.raster.framing import FollowCamera, RestMeasures, measure
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig import Character, CharacterAnimator, DemoMotion
from avatar_app.rig.default_avatar import AvatarStyle, build_default_avatar
from avatar_app.training.augment import augment_sample
from avatar_app.training.drawn_family import (
    FAMILIES,
    character_look,
    drawing_variant,
    face_region_udp,
    random_drawn_style,
)
from avatar_app.training.drawn_family import family as family_named
from avatar_app.training.pose_jitter import jitter_rotations, run_in_vertices
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
# Spring substep: VRM's own 60 Hz (the live app uses 120 Hz for smoothness at any frame
# rate; the spring parameters are rescaled per substep, so the motion is the same) halves
# the cost of the run-in, the largest part of a sample.
SPRING_DT = 1.0 / 60.0
FRONT_SHARE = FAMILIES["toon"].front_share  # of target yaws within FRONT_YAW_DEG of the front (toon)
FRONT_YAW_DEG = 45.0
ZOOM_RANGE = (0.92, 1.10)  # target camera half-height factor: < 1 zooms in
SHIFT_FRACTION = 0.05  # of the frame height, up/down and sideways
# Target framings: mostly full body (every joint supervised), the rest as often as streams use them.
TARGET_FRAMING_SHARES = FAMILIES["toon"].target_framing_shares
# Sheet views: users' drawings are full body or cut knee/waist-up; a bust sheet shows too little body.
SHEET_FRAMING_SHARES = FAMILIES["toon"].sheet_framing_shares


def _style_seed(split: str, index: int) -> int:
    return index + (VAL_STYLE_OFFSET if split == "val" else 0)


def character_style(split: str, index: int) -> tuple[str, AvatarStyle]:
    """(character id, style) of character ``index`` of ``split``'s pool."""
    style_seed = _style_seed(split, index)
    return f"syn{style_seed:07d}", AvatarStyle.random(np.random.default_rng(style_seed))


def _stream(split: str, index: int, stream: int) -> np.random.Generator:
    """Draws of character ``index`` of ``split`` that leave its style's (and each other's) alone."""
    return np.random.default_rng(np.random.SeedSequence([_style_seed(split, index), stream]))


def sheet_framings(split: str, index: int, shares: dict | None = None) -> tuple[str, ...]:
    """The framing of each sheet view (:data:`SHEET_VIEWS` order) of character ``index`` of ``split``.

    A stream of its own from the style seed, so the style's draws are not disturbed.
    ``shares`` defaults to :data:`SHEET_FRAMING_SHARES` (the toon family's).
    """
    shares = SHEET_FRAMING_SHARES if shares is None else shares
    rng = _stream(split, index, 1)
    names = list(shares)
    picks = rng.choice(len(names), size=len(SHEET_VIEWS), p=list(shares.values()))
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
    look: DrawnLook | None = None  # the drawn family's look of ``mesh``
    face_region: tuple = ()  # face_region_udp(): where the face is in UDP space


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
        family: str = "toon",
    ):
        self.size = check_model_size(size, "SyntheticDataset size")
        self.family = family_named(family)
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
        jitter = jitter_rotations(rng, self.pose_jitter)
        front, shares = self.family.front_share, self.family.target_framing_shares
        yaw = float(rng.uniform(-FRONT_YAW_DEG, FRONT_YAW_DEG) if rng.random() < front else rng.uniform(-180.0, 180.0))
        zoom = float(rng.uniform(*ZOOM_RANGE))
        shift = rng.uniform(-SHIFT_FRACTION, SHIFT_FRACTION, size=2)
        framing = str(rng.choice(list(shares), p=list(shares.values())))

        cached.mesh.update(run_in_vertices(cached.animator, self.motion, time_s, jitter))
        joints = cached.animator.world_matrices[:, :3, 3]
        camera = self._camera(cached.measures, joints, framing, yaw, zoom, shift)
        renderers.activate()
        result = renderers.target.render(cached.mesh, camera, look=cached.look)
        sheet_rgb, sheet_alpha = cached.sheet_rgb[order], cached.sheet_alpha[order]
        target_rgba = np.ascontiguousarray(np.clip(result.color, 0.0, 1.0).transpose(2, 0, 1))
        if self.family.drawn:  # a stream of its own: the draws above are the toon family's
            augment_rng = np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(self.split), index, 7]))
            sheet_rgb, sheet_alpha, target_rgba = augment_sample(sheet_rgb, sheet_alpha, target_rgba, augment_rng)
        return Sample(
            sheet_rgb=sheet_rgb,
            sheet_alpha=sheet_alpha,
            sheet_udp=cached.sheet_udp[order],
            target_udp=np.ascontiguousarray(result.udp.transpose(2, 0, 1)),
            target_rgba=target_rgba,
            character=cached.character_id,
            meta={
                "index": index,
                "split": self.split,
                "family": self.family.name,
                "face_region": cached.face_region,
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
        framings = sheet_framings(self.split, k, self.family.sheet_framing_shares)
        renderers = self._ready_renderers()
        look = None
        if self.family.drawn:
            character_id = "drw" + character_id[3:]
            look = character_look(character, style, random_drawn_style(_stream(self.split, k, 2)))
        drawn = self._render_sheet(renderers, k, character, style, mesh, look, framings)
        rgb, alpha, udp = prepared_sheet(drawn, self.size, source=f"{character.name} sheet")
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
            look,
            face_region_udp(character, style),
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
        return self._render_sheet(
            renderers, k, cached.character, cached.style, cached.mesh, cached.look, cached.sheet_framings
        )

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

    def _render_sheet(self, renderers: _Renderers, k: int, character, style, mesh, look, framings):
        """The four rest-pose views as drawn files would hold them. The drawn family draws them
        from a variant of the body (:func:`drawing_variant`), their UDP from the body itself."""
        renderers.activate()
        try:
            if look is None:
                return render_rest_views(renderers.sheet, character, mesh, SHEET_VIEWS, framings)
            drawing_style = drawing_variant(style, _stream(self.split, k, 3))
            drawing = build_default_avatar(drawing_style)
            drawing_mesh = raster_mesh(drawing, reduction=0.0)
            drawing_look = character_look(drawing, drawing_style, look.style)
            views = render_rest_views(
                renderers.sheet,
                drawing,
                drawing_mesh,
                SHEET_VIEWS,
                framings,
                look=drawing_look,
                proxy=(character, mesh),
            )
            renderers.sheet.forget(drawing_mesh)
            return views
        finally:
            renderers.sheet.forget(mesh)

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
