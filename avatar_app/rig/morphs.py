"""Morph targets keyed by expression name, and how an :class:`Expression` weights them.

A character's face moves by morph targets: bind-space vertex offsets added before skinning,
``p' = p + sum_m w_m d_m``. They are stored sparsely (the face is a few hundred of tens of
thousands of vertices) and named by expression (:data:`~avatar_app.rig.expressions.EXPRESSIONS`),
so a VRM file's expression (a weighted sum of its mesh's morph targets) is folded into one
target when it is loaded. Skinning is linear, so the posed offset is the offset turned by the
blended skinning matrices: morphs cost one small gather per frame and leave the skinning
matrix product untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar_app.rig.expressions import INDEX, VOWELS, Expression


@dataclass(frozen=True, eq=False)
class MorphTargets:
    """``names [M]`` (expression names), ``indices [K]`` (the vertices any target moves),
    ``deltas [M,K,3]`` float32 bind-space offsets (metres)."""

    names: tuple[str, ...]
    indices: np.ndarray
    deltas: np.ndarray

    def __post_init__(self):
        idx = np.ascontiguousarray(self.indices, dtype=np.int64)
        deltas = np.ascontiguousarray(self.deltas, dtype=np.float32)
        names = tuple(str(n) for n in self.names)
        if deltas.shape != (len(names), len(idx), 3):
            raise ValueError(f"MorphTargets: deltas {deltas.shape}, expected ({len(names)}, {len(idx)}, 3)")
        if len(set(names)) != len(names) or any(n not in INDEX for n in names):
            raise ValueError(f"MorphTargets: names must be distinct expression names, got {names}")
        object.__setattr__(self, "indices", idx)
        object.__setattr__(self, "deltas", deltas)
        object.__setattr__(self, "names", names)

    @classmethod
    def from_dense(cls, dense: dict[str, np.ndarray]) -> MorphTargets | None:
        """``{name: [V,3] offsets}`` -> sparse targets (None when nothing moves)."""
        dense = {n: np.asarray(d, dtype=np.float32) for n, d in dense.items()}
        dense = {n: d for n, d in dense.items() if np.any(d)}
        if not dense:
            return None
        moved = np.nonzero(np.any(np.stack([np.any(d != 0.0, axis=1) for d in dense.values()]), axis=0))[0]
        return cls(tuple(dense), moved, np.stack([d[moved] for d in dense.values()]))

    def dense(self, name: str, num_vertices: int) -> np.ndarray:
        out = np.zeros((num_vertices, 3), np.float32)
        out[self.indices] = self.deltas[self.names.index(name)]
        return out

    def weights_for(self, expression: Expression | None) -> np.ndarray | None:
        """Per-target weights ``[M]`` for ``expression``; None when nothing moves.

        Where a character has no ``blink`` target of its own, ``blink`` closes each eye
        (the larger of it and the eye's own value, so Blink=1 with Blink_L=1 is not a
        double closure). Vowels add up to at most 1: two full vowels at once would push
        the jaw through the chin.
        """
        if expression is None:
            return None
        values = {name: expression[name] for name in self.names}
        if "blink" not in self.names:
            left, right = expression.eyes_closed()
            values["blinkLeft"], values["blinkRight"] = left, right
        vowel_sum = sum(values.get(v, 0.0) for v in VOWELS)
        if vowel_sum > 1.0:
            for v in VOWELS:
                if v in values:
                    values[v] /= vowel_sum
        w = np.array([values.get(n, 0.0) for n in self.names], dtype=np.float64)
        return w if np.any(w > 0.0) else None

    def offsets(self, weights: np.ndarray) -> np.ndarray:
        """Bind-space offsets ``[K,3]`` of the moved vertices for ``weights [M]``."""
        return np.tensordot(np.asarray(weights, np.float32), self.deltas, axes=1)

    def remapped(self, vertex_map: np.ndarray, num_vertices: int) -> MorphTargets | None:
        """The targets after vertices were renumbered: ``vertex_map[old] = new`` (-1 = dropped)."""
        new = np.asarray(vertex_map)[self.indices]
        keep = new >= 0
        if not np.any(keep):
            return None
        return MorphTargets(self.names, new[keep], self.deltas[:, keep])


def skin_offsets(skinning_matrices: np.ndarray, joints: np.ndarray, weights: np.ndarray, offsets: np.ndarray):
    """Posed offsets ``[K,3]``: each bind-space offset turned by its vertex's blended skinning matrix."""
    linear = skinning_matrices[:, :3, :3][joints]  # [K,I,3,3]
    blended = np.einsum("ki,kirc->krc", weights.astype(np.float64), linear)
    return np.einsum("krc,kc->kr", blended, offsets.astype(np.float64)).astype(np.float32)
