"""Skinned meshes and vectorized linear-blend skinning.

LBS is linear in the 3x4 skinning matrices, so we precompute (once per mesh)
a sparse matrix ``S [V, 4J]`` holding ``weight * homogeneous rest position``
per influence. One frame of skinning is then ``S @ M`` with ``M [4J, 3]`` the
stacked ``world @ inverse_bind`` matrices: a single sparse-dense product, no
per-vertex Python and no ``[V, K, 3, 4]`` gather.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse

from avatar_app.rig.errors import RigFileError
from avatar_app.rig.morphs import MorphTargets, skin_offsets


@dataclass(frozen=True, eq=False)
class SkinnedMesh:
    """Triangle mesh bound to a skeleton.

    ``positions [V,3]`` float32: bind-space positions (for characters built
    here, and for most glTF files, the rest pose in metres).
    ``triangles [F,3]`` int32, counter-clockwise when seen from outside.
    ``joints [V,K]`` int, ``weights [V,K]`` float32 (rows sum to 1).
    ``inverse_bind_matrices [J,4,4]`` float64, one per skeleton joint.
    ``colors [V,4]`` float32 sRGB (display values, not linear) + alpha, optional.
    ``part_ids [V]`` int16 indexes ``part_names`` (hair, skin, skirt ...), optional.
    ``morphs``: the face's morph targets by expression name (:mod:`.morphs`), optional.
    """

    positions: np.ndarray
    triangles: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    inverse_bind_matrices: np.ndarray
    colors: np.ndarray | None = None
    part_ids: np.ndarray | None = None
    part_names: tuple[str, ...] = ()
    name: str = "mesh"
    source: str = "mesh"
    morphs: MorphTargets | None = None

    def __post_init__(self):
        src = self.source
        pos = np.ascontiguousarray(self.positions, dtype=np.float32)
        tri = np.ascontiguousarray(self.triangles, dtype=np.int32)
        jnt = np.ascontiguousarray(self.joints, dtype=np.int32)
        wts = np.ascontiguousarray(self.weights, dtype=np.float32)
        ibm = np.ascontiguousarray(self.inverse_bind_matrices, dtype=np.float64)
        v = len(pos)
        if pos.ndim != 2 or pos.shape[1] != 3 or v == 0:
            raise RigFileError(src, "vertex positions [V,3] with V > 0", f"shape {pos.shape}", "check the mesh")
        if tri.ndim != 2 or tri.shape[1] != 3 or (tri.size and (tri.min() < 0 or tri.max() >= v)):
            raise RigFileError(
                src,
                f"triangles [F,3] indexing {v} vertices",
                f"shape {tri.shape}, range {tri.min() if tri.size else 0}..{tri.max() if tri.size else 0}",
                "check the index buffer",
            )
        if jnt.shape != wts.shape or jnt.ndim != 2 or len(jnt) != v:
            raise RigFileError(
                src,
                f"joints and weights [{v},K]",
                f"{jnt.shape} and {wts.shape}",
                "give every vertex the same number of influences",
            )
        if ibm.ndim != 3 or ibm.shape[1:] != (4, 4):
            raise RigFileError(src, "inverse bind matrices [J,4,4]", f"shape {ibm.shape}", "check the skin")
        if jnt.size and (jnt.min() < 0 or jnt.max() >= len(ibm)):
            raise RigFileError(
                src,
                f"joint indices below {len(ibm)}",
                f"range {jnt.min()}..{jnt.max()}",
                "check JOINTS_0 against the skin's joint list",
            )
        sums = wts.sum(axis=1)
        if np.any(wts < -1e-6) or np.any(np.abs(sums - 1.0) > 1e-3):
            bad = int(np.argmax(np.abs(sums - 1.0)))
            raise RigFileError(
                src,
                "non-negative skin weights summing to 1 per vertex",
                f"vertex {bad} sums to {sums[bad]:.4f}",
                "normalize the weights in your DCC tool",
            )
        off = np.abs(sums - 1.0) > 1e-6  # renormalize only rows that need it, so loading is idempotent
        if np.any(off):
            wts = wts.copy()
            wts[off] /= sums[off, None]
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "triangles", tri)
        object.__setattr__(self, "joints", jnt)
        object.__setattr__(self, "weights", wts)
        object.__setattr__(self, "inverse_bind_matrices", ibm)
        if self.colors is not None:
            col = np.ascontiguousarray(self.colors, dtype=np.float32)
            if col.shape != (v, 4):
                raise RigFileError(src, f"vertex colours [{v},4]", f"shape {col.shape}", "pad RGB with alpha 1")
            object.__setattr__(self, "colors", col)
        if self.part_ids is not None:
            parts = np.ascontiguousarray(self.part_ids, dtype=np.int16)
            if parts.shape != (v,) or (parts.size and (parts.min() < 0 or parts.max() >= max(len(self.part_names), 1))):
                raise RigFileError(
                    src,
                    f"part ids [{v}] indexing {len(self.part_names)} part names",
                    f"shape {parts.shape}",
                    "name every part",
                )
            object.__setattr__(self, "part_ids", parts)
        object.__setattr__(self, "part_names", tuple(self.part_names))
        if self.morphs is not None and self.morphs.indices.size and self.morphs.indices.max() >= v:
            raise RigFileError(src, f"morph targets on vertices below {v}", "larger indices", "check the morphs")

    @property
    def num_vertices(self) -> int:
        return len(self.positions)

    @cached_property
    def _blend_matrix(self) -> scipy.sparse.csr_matrix:
        v, k = self.joints.shape
        homog = np.concatenate([self.positions.astype(np.float64), np.ones((v, 1))], axis=1)  # [V,4]
        data = (self.weights[:, :, None].astype(np.float64) * homog[:, None, :]).reshape(-1)  # [V*K*4]
        cols = (self.joints[:, :, None] * 4 + np.arange(4)).reshape(-1)
        rows = np.repeat(np.arange(v), k * 4)
        keep = data != 0.0
        mat = scipy.sparse.csr_matrix(
            (data[keep], (rows[keep], cols[keep])), shape=(v, 4 * len(self.inverse_bind_matrices))
        )
        mat.sum_duplicates()
        return mat

    def skinning_matrices(self, world_matrices: np.ndarray) -> np.ndarray:
        """``world @ inverse_bind`` per joint, ``[J,4,4]``."""
        return world_matrices @ self.inverse_bind_matrices

    def skin(self, world_matrices: np.ndarray, morph_weights: np.ndarray | None = None) -> np.ndarray:
        """Posed vertex positions ``[V,3]`` float32 for joint world matrices ``[J,4,4]``.

        ``morph_weights [M]`` (``morphs.weights_for(expression)``) adds the morph targets
        before skinning; their posed offsets are added to the few vertices they move.
        """
        skinning = self.skinning_matrices(world_matrices)
        m = skinning[:, :3, :]  # [J,3,4]
        stacked = np.ascontiguousarray(m.transpose(0, 2, 1).reshape(-1, 3))  # [(j,c), i]
        posed = (self._blend_matrix @ stacked).astype(np.float32)
        if morph_weights is not None and self.morphs is not None:
            idx = self.morphs.indices
            offsets = self.morphs.offsets(morph_weights)
            posed[idx] += skin_offsets(skinning, self.joints[idx], self.weights[idx], offsets)
        return posed

    def skin_dense(self, world_matrices: np.ndarray) -> np.ndarray:
        """Reference LBS with an explicit gather (slow); used to check :meth:`skin`."""
        m = self.skinning_matrices(world_matrices)[:, :3, :]
        per = m[self.joints]  # [V,K,3,4]
        blended = np.einsum("vk,vkij->vij", self.weights.astype(np.float64), per)
        homog = np.concatenate([self.positions.astype(np.float64), np.ones((self.num_vertices, 1))], axis=1)
        return np.einsum("vij,vj->vi", blended, homog).astype(np.float32)
