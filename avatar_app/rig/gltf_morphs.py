"""VRM expressions <-> glTF morph targets: reading binds, folding targets, writing them back.

A VRM expression is a weighted sum of its meshes' morph targets (VRM 1.0
``VRMC_vrm.expressions.preset|custom.<name>.morphTargetBinds`` by node, weight 0..1;
VRM 0.x ``VRM.blendShapeMaster.blendShapeGroups[].binds`` by mesh, weight 0..100). Morphing is
linear, so each expression we know (:mod:`.expressions`) becomes one target over the merged
mesh when a file is loaded. Material binds, ``isBinary`` and the override flags are not read.
"""

from __future__ import annotations

import logging

import numpy as np

from avatar_app.rig.expressions import expression_name

log = logging.getLogger(__name__)

Binds = dict[str, list[tuple[int, int, float]]]  # our name -> [(mesh index, target index, weight 0..1)]


def expression_binds(gltf, extensions: dict, source: str) -> Binds:
    """The file's expressions we know, as binds by mesh index (VRM 1.0 first, then 0.x)."""
    nodes = gltf.nodes or []
    out: Binds = {}
    skipped = []
    vrm1 = (extensions or {}).get("VRMC_vrm")
    if isinstance(vrm1, dict) and isinstance(vrm1.get("expressions"), dict):
        groups = {}
        for kind in ("preset", "custom"):
            groups.update(vrm1["expressions"].get(kind) or {})
        for key, expr in groups.items():
            name = expression_name(key)
            if name is None or not isinstance(expr, dict):
                skipped.append(key)
                continue
            for b in expr.get("morphTargetBinds") or []:
                node = int(b.get("node", -1))
                mesh = nodes[node].mesh if 0 <= node < len(nodes) else None
                if mesh is not None:
                    out.setdefault(name, []).append((int(mesh), int(b.get("index", -1)), float(b.get("weight", 1.0))))
    else:
        vrm0 = (extensions or {}).get("VRM")
        master = vrm0.get("blendShapeMaster") if isinstance(vrm0, dict) else None
        for group in (master or {}).get("blendShapeGroups") or []:
            preset = str(group.get("presetName") or "").strip()
            key = preset if preset and preset.lower() != "unknown" else str(group.get("name") or "")
            name = expression_name(key)
            if name is None:
                skipped.append(key)
                continue
            for b in group.get("binds") or []:
                bind = (int(b.get("mesh", -1)), int(b.get("index", -1)), float(b.get("weight", 100.0)) / 100.0)
                out.setdefault(name, []).append(bind)
    if skipped:
        log.info("%s: expressions not driven here: %s", source, ", ".join(sorted(map(str, skipped)))[:200])
    return out


def primitive_targets(f, prim) -> list[np.ndarray | None]:
    """The POSITION offsets ``[V,3]`` of each of a primitive's morph targets (None: it has none)."""
    out = []
    for target in prim.targets or []:
        accessor = target.get("POSITION") if isinstance(target, dict) else getattr(target, "POSITION", None)
        out.append(None if accessor is None else f.accessor(int(accessor)).astype(np.float32))
    return out


def add_bound_targets(dense: dict, binds: Binds, mesh_index: int, targets, start: int, num_vertices: int, source):
    """Add one primitive's targets, weighted by ``binds``, into ``dense[name] [V,3]`` at ``start``."""
    for name, name_binds in binds.items():
        for mesh, index, weight in name_binds:
            if mesh != mesh_index:
                continue
            if not 0 <= index < len(targets) or targets[index] is None:
                log.warning("%s: expression %s binds missing morph target %d of mesh %d", source, name, index, mesh)
                continue
            delta = targets[index]
            acc = dense.setdefault(name, np.zeros((num_vertices, 3), np.float32))
            acc[start : start + len(delta)] += weight * delta


def sparse_position_target(blob, pygltflib, offsets: np.ndarray) -> int:
    """A POSITION morph target accessor that stores only the vertices it moves (glTF sparse)."""
    moved = np.nonzero(np.any(offsets != 0.0, axis=1))[0].astype(np.uint32)
    values = np.ascontiguousarray(offsets[moved], dtype=np.float32)
    index_view = blob.view(moved)
    value_view = blob.view(values)
    blob.accessors.append(
        pygltflib.Accessor(
            componentType=5126,
            count=len(offsets),
            type="VEC3",
            max=offsets.max(axis=0).tolist(),
            min=offsets.min(axis=0).tolist(),
            sparse=pygltflib.Sparse(
                count=len(moved),
                indices=pygltflib.AccessorSparseIndices(bufferView=index_view, componentType=5125),
                values=pygltflib.AccessorSparseValues(bufferView=value_view),
            ),
        )
    )
    return len(blob.accessors) - 1


def vrm1_expressions(names, mesh_node: int) -> dict:
    """``VRMC_vrm.expressions``: each of our (preset) names bound to its own target of the mesh node."""
    return {
        "preset": {
            name: {"morphTargetBinds": [{"node": mesh_node, "index": k, "weight": 1.0}], "isBinary": False}
            for k, name in enumerate(names)
        }
    }
