"""Spring bones (VRM style) on a fixed timestep.

The update per segment follows the VRMC_springBone 1.0 reference algorithm:
verlet inertia scaled by ``1 - drag``, a stiffness pull toward the animated
rest direction, gravity, length projection, sphere/capsule collision, and the
head joint rotated by the shortest arc from its rest axis to the new tail.

What we add for a live app:

* **Fixed substeps** (default 1/120 s). ``step`` accumulates frame time, runs
  whole substeps and carries the remainder; the result is the state after the
  last whole substep (no extrapolation). Parameters are rescaled from the
  VRM 60 fps meaning to the substep, so behaviour does not depend on the frame
  rate. At most ``max_substeps`` run per frame; longer gaps are dropped (a
  stall does not turn into a burst of catch-up work).
* **Interpolated drivers**: within one frame the chain roots and colliders
  move linearly (positions) and by nlerp (rotations) from the previous frame
  to this one, so a 1/15 s frame is eight small moves, not one jump.
* **Teleport re-seating**: when a chain root moves farther than
  ``teleport_distance`` or turns more than ``teleport_angle_deg`` in one frame
  (a tracking glitch, a cut), that chain's tails are put back on the animated
  pose with zero velocity instead of whipping around. Non-finite state is
  re-seated the same way.
* **Vectorized**: every segment of every chain is updated in one batch per
  substep. Head frames come from the previous substep's rotations (Jacobi
  order), so a parent's swing reaches its child one substep (1/120 s) later
  than in the reference's root-to-tip order; in exchange the cost does not
  grow with chain length. Bone lengths are exactly preserved because only
  rotations are written back.
* **Collisions**: each tail is pushed out of the deepest collider it
  overlaps (one pass), then put back at bone length.
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.errors import RigFileError
from avatar_app.rig.quaternion import matrix_to_quat, quat_multiply, quat_nlerp, quat_to_matrix, rotation_between_matrix
from avatar_app.rig.skeleton import Pose, Skeleton
from avatar_app.rig.spring_settings import SpringSettings

REFERENCE_DT = 1.0 / 60.0
_PADDING = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0.1], [0, 0, 0, 1.0]])  # a harmless dummy segment


def _rigid_inverse(m: np.ndarray) -> np.ndarray:
    out = np.zeros_like(m)
    rt = np.swapaxes(m[..., :3, :3], -1, -2)
    out[..., :3, :3] = rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rt, m[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


class SpringBoneSystem:
    """Spring-bone state for one skeleton.

    ``step(pose, world, frame_dt)`` takes the animated pose and its world
    matrices and returns the pose with the spring joints' local rotations
    replaced; run forward kinematics on it again to get the final matrices
    (:class:`~avatar_app.rig.animator.CharacterAnimator` does all of that).
    The same inputs always give bit-identical outputs.
    """

    def __init__(
        self,
        skeleton: Skeleton,
        settings: SpringSettings,
        dt: float = 1.0 / 120.0,
        max_substeps: int = 12,
        teleport_distance: float = 0.5,
        teleport_angle_deg: float = 60.0,
    ):
        if not (0.0 < dt <= 0.1):
            raise ValueError(f"spring dt must be in (0, 0.1] seconds, got {dt}")
        self.skeleton = skeleton
        self.settings = settings
        self.dt = float(dt)
        self.max_substeps = int(max_substeps)
        self.teleport_distance = float(teleport_distance)
        self.teleport_cos = math.cos(math.radians(teleport_angle_deg) / 2.0)  # compared with |q_prev . q_now|
        self._build(skeleton, settings)
        self.reset()

    # ---- construction -------------------------------------------------
    def _build(self, skeleton: Skeleton, settings: SpringSettings) -> None:
        count = skeleton.num_joints
        rest = skeleton.rest_world_matrices
        chains = []
        used: dict[int, str] = {}
        for ci, chain in enumerate(settings.chains):
            label = f"{skeleton.source}: spring chain {chain.name or ci}"
            if len(chain.joints) < 2:
                raise RigFileError(
                    label, "at least two joints (the last one is the tail)", f"{len(chain.joints)}", "add a tail joint"
                )
            for j in chain.joints:
                if not 0 <= j < count:
                    raise RigFileError(label, f"joint indices below {count}", str(j), "fix the chain")
            for a, b in zip(chain.joints[:-1], chain.joints[1:]):
                if a not in self._ancestors(skeleton, b):
                    raise RigFileError(
                        label,
                        "each joint an ancestor of the next",
                        f"{skeleton.names[a]!r} is not above {skeleton.names[b]!r}",
                        "list the joints root to tip",
                    )
            for j in chain.joints[:-1]:
                if j in used:
                    raise RigFileError(
                        label,
                        "each joint in one chain only",
                        f"{skeleton.names[j]!r} also in {used[j]}",
                        "split the chains",
                    )
                used[j] = label
            chains.append(chain)
        chains.sort(key=lambda c: -len(c.joints))  # active chains per level form a prefix
        self.chains = tuple(chains)
        c_count = len(chains)
        levels = max((len(c.joints) - 1 for c in chains), default=0)
        self.levels = levels
        head = np.zeros((c_count, max(levels, 1)), dtype=int)
        tail = np.zeros_like(head)
        axis = np.zeros((c_count, max(levels, 1), 3))
        axis[..., 1] = 1.0
        length = np.ones((c_count, max(levels, 1)))
        stiff = np.zeros_like(length)
        gpow = np.zeros_like(length)
        gdir = np.zeros_like(axis)
        drag = np.zeros_like(length)
        hit = np.zeros_like(length)
        for ci, chain in enumerate(chains):
            for lvl in range(len(chain.joints) - 1):
                h, t = chain.joints[lvl], chain.joints[lvl + 1]
                head[ci, lvl], tail[ci, lvl] = h, t
                offset = rest[t, :3, 3] - rest[h, :3, 3]
                seg = float(np.linalg.norm(offset))
                if seg < 1e-6:
                    raise RigFileError(
                        f"{skeleton.source}: spring chain {chain.name or ci}",
                        "segments with non-zero length",
                        f"{skeleton.names[h]!r} and {skeleton.names[t]!r} at the same place",
                        "move the tail joint away from its head",
                    )
                axis[ci, lvl] = rest[h, :3, :3].T @ (offset / seg)
                length[ci, lvl] = seg
                s = chain.settings[lvl]
                stiff[ci, lvl], gpow[ci, lvl], drag[ci, lvl], hit[ci, lvl] = (
                    s.stiffness,
                    s.gravity_power,
                    s.drag,
                    s.hit_radius,
                )
                g = np.asarray(s.gravity_dir, dtype=np.float64)
                gdir[ci, lvl] = g / max(np.linalg.norm(g), 1e-12)
        self._head, self._tail, self._axis, self._length = head, tail, axis, length
        self._segment_rows = np.arange(head.size)
        self._valid = np.zeros(head.shape, dtype=bool)
        for ci, chain in enumerate(chains):
            self._valid[ci, : len(chain.joints) - 1] = True
        self._force_scale = self.dt * self.dt / REFERENCE_DT
        self._stiff_force = stiff[..., None] * 1.0
        self._gravity = gpow[..., None] * gdir
        self._keep = np.clip(1.0 - drag, 0.0, 1.0) ** (self.dt / REFERENCE_DT)
        self._hit = hit
        cols = settings.colliders
        self._col_joint = np.array([c.joint for c in cols], dtype=int)
        self._col_offset = np.array([c.offset for c in cols], dtype=np.float64).reshape(-1, 3)
        self._col_tail = np.array([c.tail if c.tail is not None else c.offset for c in cols], dtype=np.float64).reshape(
            -1, 3
        )
        self._col_radius = np.array([c.radius for c in cols], dtype=np.float64)
        collides = np.zeros((c_count, len(cols)), dtype=bool)
        for ci, chain in enumerate(chains):
            for g in chain.collider_groups:
                if not 0 <= g < len(settings.collider_groups):
                    raise RigFileError(
                        f"{skeleton.source}: spring chain {chain.name or ci}",
                        f"collider group indices below {len(settings.collider_groups)}",
                        str(g),
                        "fix the chain's collider groups",
                    )
                for k in settings.collider_groups[g].colliders:
                    collides[ci, k] = True
        self._collides = collides
        # collider radius + segment hit radius where a chain uses the collider, -inf where not
        self._reach = np.where(collides[:, None, :], self._col_radius[None, None, :] + hit[..., None], -np.inf)
        self._use_colliders = bool(collides.any())
        self._driver_joints = np.concatenate([head[:, 0], self._col_joint]).astype(int)
        flat = [(ci, lvl) for ci, chain in enumerate(chains) for lvl in range(len(chain.joints) - 1)]
        self._flat_c = np.array([f[0] for f in flat], dtype=int)
        self._flat_l = np.array([f[1] for f in flat], dtype=int)
        self.spring_joints = head[self._flat_c, self._flat_l] if flat else np.zeros(0, dtype=int)

    @staticmethod
    def _ancestors(skeleton: Skeleton, j: int) -> set[int]:
        out = set()
        p = skeleton.parents[j]
        while p >= 0:
            out.add(int(p))
            p = skeleton.parents[p]
        return out

    # ---- state --------------------------------------------------------
    def reset(self) -> None:
        """Forget all motion; the next ``step`` seats every tail on the animated pose."""
        shape = self._head.shape
        self._prev = np.zeros((*shape, 3))
        self._cur = np.zeros((*shape, 3))
        self._rot = np.broadcast_to(np.eye(3), (*shape, 3, 3)).copy()
        self._accumulator = 0.0
        self._initialized = False
        self._last_drivers: np.ndarray | None = None
        self._last_q: np.ndarray | None = None

    def _seat(self, world: np.ndarray, chains: np.ndarray) -> None:
        # put tails where the animated pose has them (dummy segments: 1 m along their axis)
        tails = np.where(
            self._valid[chains][..., None],
            world[self._tail[chains], :3, 3],
            world[self._head[chains], :3, 3] + self._axis[chains],
        )
        self._prev[chains] = tails
        self._cur[chains] = tails
        self._rot[chains] = np.eye(3)

    # ---- per frame ----------------------------------------------------
    def step(self, pose: Pose, world: np.ndarray, frame_dt: float) -> Pose:
        """Advance by ``frame_dt`` seconds and return ``pose`` with spring joints rotated.

        ``world`` is ``forward_kinematics(skeleton, pose)``: the animated
        (spring-free) world matrices of this frame.
        """
        if not self.chains:
            return pose
        chains = len(self.chains)
        drivers = world[self._driver_joints]  # chain roots, then colliders
        driver_q = matrix_to_quat(drivers[:, :3, :3])
        if not self._initialized:
            self._seat(world, np.arange(chains))
            self._last_drivers, self._last_q = drivers, driver_q
            self._initialized = True
        else:
            moved = np.sqrt(np.sum((drivers[:chains, :3, 3] - self._last_drivers[:chains, :3, 3]) ** 2, axis=-1))
            turned = np.abs(np.sum(driver_q[:chains] * self._last_q[:chains], axis=-1))  # cos(angle / 2)
            broken = ~np.isfinite(self._cur).all(axis=(1, 2))
            jump = (moved > self.teleport_distance) | (turned < self.teleport_cos) | broken
            if jump.any():
                self._seat(world, np.nonzero(jump)[0])
                # a teleport moves the whole body: do not sweep roots or colliders through space
                self._last_drivers, self._last_q = drivers, driver_q
        frame_dt = float(frame_dt) if math.isfinite(frame_dt) and frame_dt > 0 else 0.0
        self._accumulator = min(self._accumulator + frame_dt, self.max_substeps * self.dt)
        substeps = int(self._accumulator / self.dt + 1e-9)
        if substeps:
            owed = self._accumulator - frame_dt  # simulated time still owed from earlier frames
            ends = (np.arange(1, substeps + 1) * self.dt - owed) / frame_dt if frame_dt else np.ones(substeps)
            path = self._interpolate(self._last_drivers, drivers, self._last_q, driver_q, np.clip(ends, 0.0, 1.0))
            relative = self._relative_transforms(world)
            shapes = self._collider_segments(path[:, chains:]) if self._use_colliders else None
            for s in range(substeps):
                self._substep(
                    path[s, :chains], relative, None if shapes is None else (shapes[0][s], shapes[1][s], shapes[2][s])
                )
            self._accumulator -= substeps * self.dt
        self._last_drivers, self._last_q = drivers, driver_q
        out = pose.copy()
        joints = self.spring_joints
        delta = matrix_to_quat(self._rot[self._flat_c, self._flat_l])
        out.rotations[joints] = quat_multiply(pose.rotations[joints], delta)
        return out

    @staticmethod
    def _interpolate(before, after, q_before, q_after, alphas) -> np.ndarray:
        """Driver matrices at each substep end ``[S, D, 4, 4]``: lerp positions, nlerp rotations."""
        a = alphas[:, None]
        out = np.empty((len(alphas), *after.shape))
        out[..., :3, :3] = quat_to_matrix(quat_nlerp(q_before[None], q_after[None], a))
        out[..., :3, 3] = (1.0 - a[..., None]) * before[None, :, :3, 3] + a[..., None] * after[None, :, :3, 3]
        out[..., 3, :] = (0.0, 0.0, 0.0, 1.0)
        return out

    def _relative_transforms(self, world: np.ndarray) -> np.ndarray:
        """Animated transform of each head relative to the previous level's head."""
        if self.levels < 2:
            return np.zeros((len(self.chains), 0, 4, 4))
        prev = world[self._head[:, :-1]]
        here = world[self._head[:, 1:]]
        rel = _rigid_inverse(prev) @ here
        rel[~self._valid[:, 1:]] = _PADDING
        return rel

    def _substep(self, root_w: np.ndarray, relative: np.ndarray, col_shapes) -> None:
        # Head frames of every level from the previous substep's rotations
        # (Jacobi order: one batched update for all segments, instead of one
        # per level; upstream changes reach a segment one substep, 1/120 s, later).
        levels = self.levels
        frames = np.empty((len(self.chains), levels, 4, 4))
        frames[:, 0] = root_w
        if levels > 1:
            turn = np.zeros((len(self.chains), levels - 1, 4, 4))
            turn[..., :3, :3] = self._rot[:, :-1]
            turn[..., 3, 3] = 1.0
            step = turn @ relative
            for lvl in range(1, levels):
                frames[:, lvl] = frames[:, lvl - 1] @ step[:, lvl - 1]
        rot = frames[..., :3, :3]
        head = frames[..., :3, 3]
        axis, length = self._axis, self._length[..., None]
        cur = self._cur
        rest_dir = (rot @ axis[..., None])[..., 0]
        nxt = (
            cur
            + (cur - self._prev) * self._keep[..., None]
            + self._force_scale * (self._stiff_force * rest_dir + self._gravity)
        )
        nxt = _constrain(nxt, head, length, rest_dir)
        if col_shapes is not None:
            nxt = self._collide(nxt, head, length, rest_dir, col_shapes)
        to = (np.swapaxes(rot, -1, -2) @ (nxt - head)[..., None])[..., 0] / length
        self._rot = rotation_between_matrix(axis, to)
        self._prev = cur
        self._cur = nxt

    def _collider_segments(self, col_w: np.ndarray):
        """World start ``a``, axis ``ab`` and ``|ab|^2`` of every collider at every substep (spheres: ab = 0)."""
        rot, pos = col_w[..., :3, :3], col_w[..., :3, 3]
        a = (rot @ self._col_offset[:, :, None])[..., 0] + pos
        ab = (rot @ self._col_tail[:, :, None])[..., 0] + pos - a
        return a, ab, np.maximum(np.einsum("...i,...i->...", ab, ab), 1e-12)

    def _collide(self, nxt, head, length, rest_dir, shapes):
        a, ab, ab2 = shapes
        ap = nxt[..., None, :] - a  # [C,L,N,3]
        t = np.minimum(np.maximum(np.einsum("...i,...i->...", ap, ab) / ab2, 0.0), 1.0)
        d = ap - t[..., None] * ab
        dist = np.sqrt(np.einsum("...i,...i->...", d, d))
        depth = self._reach - dist
        if not (depth > 0.0).any():
            return nxt
        # push out of the deepest collider only (one pass; then back to bone length)
        count = depth.shape[-1]
        flat = np.argmax(depth, axis=-1).reshape(-1) + self._segment_rows * count
        best = np.maximum(depth.reshape(-1)[flat], 0.0).reshape(nxt.shape[:-1] + (1,))
        dk = d.reshape(-1, 3)[flat].reshape(nxt.shape)
        dk_norm = dist.reshape(-1)[flat].reshape(best.shape)
        push_dir = np.where(dk_norm > 1e-9, dk / np.maximum(dk_norm, 1e-9), rest_dir)
        return _constrain(nxt + push_dir * best, head, length, rest_dir)


def _constrain(nxt, head, length, fallback):
    """Put each tail back at its bone length from its head (VRM's length rule)."""
    d = nxt - head
    norm = np.sqrt(np.einsum("...i,...i->...", d, d))[..., None]
    ok = norm > 1e-9
    if ok.all():
        return head + d * (length / norm)
    return head + np.where(ok, d / np.maximum(norm, 1e-9), fallback) * length
