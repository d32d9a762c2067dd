"""Load a skinned glTF 2.0 / VRM (0.x or 1.0) file into a :class:`Character`.

What we take: the first skin that a mesh node uses and every mesh node that
uses that same skin (merged into one :class:`SkinnedMesh`, one part per
primitive unless the file carries our ``_PART`` attribute), the joints of
that skin plus every node the VRM extensions point at, and their ancestors.

Node scale is folded away: each joint keeps its world position and a
scale-free rotation, and the inverse bind matrices absorb the difference, so
the rest mesh is reproduced exactly (posing is exact for uniform scale).
VRM 0.x models face -z; they are turned 180 degrees about y to face +z like
VRM 1.0 and our own characters.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from avatar_app.rig.character import Character
from avatar_app.rig.errors import RigFileError
from avatar_app.rig.gltf_file import GltfFile, linear_to_srgb
from avatar_app.rig.gltf_morphs import add_bound_targets, expression_binds, primitive_targets
from avatar_app.rig.morphs import MorphTargets
from avatar_app.rig.quaternion import matrix_to_quat, quat_to_matrix
from avatar_app.rig.skeleton import Skeleton, local_matrices
from avatar_app.rig.skinning import SkinnedMesh
from avatar_app.rig.spring_settings import Collider, SpringChain, SpringJointSettings, SpringSettings
from avatar_app.rig.vrm import humanoid_nodes, joint_settings, springs_vrm1, vrm0_colliders, vrm0_secondary

log = logging.getLogger(__name__)

_VRM0_TAIL_M = 0.07  # VRM 0.x adds a 7 cm tail after the last bone of a spring


def _node_matrix(node) -> np.ndarray:
    if node.matrix is not None and len(node.matrix) == 16:
        m = np.asarray(node.matrix, dtype=np.float64).reshape(4, 4).T  # glTF is column-major
        if not np.isfinite(m).all():
            raise ValueError(f"node {node.name!r} has NaN or infinite matrix values")
        return m
    t = np.asarray(node.translation if node.translation is not None else (0, 0, 0), dtype=np.float64)
    r = np.asarray(node.rotation if node.rotation is not None else (0, 0, 0, 1), dtype=np.float64)
    s = np.asarray(node.scale if node.scale is not None else (1, 1, 1), dtype=np.float64)
    m = local_matrices(r / max(np.linalg.norm(r), 1e-12), t)
    m[:3, :3] *= s
    if not np.isfinite(m).all():
        raise ValueError(f"node {node.name!r} has NaN or infinite transform values")
    return m


def _rigid(m: np.ndarray) -> np.ndarray:
    """Drop scale: the nearest rotation (polar decomposition) and the same origin."""
    u, _, vt = np.linalg.svd(m[:3, :3])
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    out = np.eye(4)
    out[:3, :3] = r
    out[:3, 3] = m[:3, 3]
    return out


# What a file whose parts contradict each other makes the reader raise (an index past a list, a
# string where a number goes, a 2-vector where a 3-vector goes, a cycle of children): found by
# tools/fuzz.py. One guard at the door turns each into a RigFileError naming the file.
_INCONSISTENT = (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError)


def load_gltf(path) -> Character:
    """Read a skinned glTF/GLB/VRM file. Raises :class:`RigFileError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise RigFileError(path, "an existing glTF/VRM file", "no such file", "check the path (a .glb, .gltf or .vrm)")
    f = GltfFile(path)
    try:
        character = _build_character(path, f)
    except _INCONSISTENT as exc:  # RigFileError is none of these: our own refusals pass through as they are
        raise RigFileError(
            path,
            "a glTF 2.0 file whose indices, arrays and values agree with each other",
            f"an inconsistent file ({type(exc).__name__}: {str(exc)[:200]})",
            "re-export it from the modelling tool as glTF 2.0 binary (.glb) or VRM",
        ) from exc
    skeleton, mesh = character.skeleton, character.mesh
    for what, values in (
        ("node transforms", (skeleton.rest_translations, skeleton.rest_rotations)),
        ("vertex positions and skin matrices", (mesh.positions, mesh.inverse_bind_matrices)),
    ):
        if not all(np.isfinite(v).all() for v in values):
            raise RigFileError(path, f"finite {what}", "NaN or infinite values", "re-export the model; check its scale")
    return character


def _build_character(path: Path, f: GltfFile) -> Character:
    g = f.gltf
    nodes = g.nodes or []
    parent = np.full(len(nodes), -1)
    for i, n in enumerate(nodes):
        for c in n.children or []:
            parent[c] = i
    skinned = [i for i, n in enumerate(nodes) if n.mesh is not None and n.skin is not None]
    if not skinned:
        raise RigFileError(
            path,
            "a skinned mesh (a node with both 'mesh' and 'skin')",
            f"{len(g.meshes or [])} meshes, {len(g.skins or [])} skins, none attached together",
            "export the mesh with its armature (skinning enabled)",
        )
    skin_index = nodes[skinned[0]].skin
    mesh_nodes = [i for i in skinned if nodes[i].skin == skin_index]
    skin = g.skins[skin_index]
    extensions = g.extensions or {}
    hum_nodes, vrm_version = humanoid_nodes(extensions, f.source)
    springs = springs_vrm1(extensions, f.source)
    secondary = vrm0_secondary(extensions) if springs is None else None
    wanted = set(skin.joints) | set(hum_nodes.values())
    if springs is not None:
        wanted |= {j for c in springs.chains for j in c.joints} | {c.joint for c in springs.colliders}
    if secondary is not None:
        for group in secondary.get("boneGroups") or []:
            for root in group.get("bones") or []:
                if not 0 <= int(root) < len(nodes):
                    raise RigFileError(
                        path,
                        f"spring bone nodes below {len(nodes)}",
                        f"node {root}",
                        "the file is inconsistent; re-export it",
                    )
                stack = [int(root)]
                while stack:
                    n = stack.pop()
                    wanted.add(n)
                    stack.extend(nodes[n].children or [])
        wanted |= {
            int(cg.get("node", -1)) for cg in secondary.get("colliderGroups") or [] if int(cg.get("node", -1)) >= 0
        }
    bad = sorted(n for n in wanted if not 0 <= n < len(nodes))
    if bad:
        raise RigFileError(
            path,
            f"node indices below {len(nodes)}",
            f"references to nodes {bad[:5]}",
            "the file is inconsistent; re-export it",
        )
    for n in list(wanted):
        p = parent[n]
        while p >= 0 and p not in wanted:
            wanted.add(int(p))
            p = parent[p]
    order = sorted(wanted)
    if any(parent[n] >= 0 and parent[n] > n for n in order):
        order = _depth_first(nodes, parent, wanted)
    joint_of = {n: j for j, n in enumerate(order)}

    # world transforms (with scale) of every wanted node, then scale-free joints
    world_scaled: dict[int, np.ndarray] = {}
    for n in order:
        m = _node_matrix(nodes[n])
        p = parent[n]
        world_scaled[n] = world_scaled[p] @ m if p >= 0 else m
    world = np.stack([_rigid(world_scaled[n]) for n in order])
    parents = [joint_of.get(int(parent[n]), -1) for n in order]
    local = np.stack([np.linalg.inv(world[p]) @ world[j] if p >= 0 else world[j] for j, p in enumerate(parents)])
    names = _unique_names([nodes[n].name or f"node{n}" for n in order])
    translations = local[:, :3, 3].copy()
    rotations = matrix_to_quat(local[:, :3, :3])

    ibm_skin = (
        f.accessor(skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
        if skin.inverseBindMatrices is not None
        else np.broadcast_to(np.eye(4), (len(skin.joints), 4, 4))
    )
    if len(ibm_skin) != len(skin.joints):
        raise RigFileError(path, f"{len(skin.joints)} inverse bind matrices", f"{len(ibm_skin)}", "re-export the skin")
    joint_count = len(order)
    ibm = np.broadcast_to(np.eye(4), (joint_count, 4, 4)).copy()
    for k, n in enumerate(skin.joints):
        j = joint_of[n]
        ibm[j] = np.linalg.inv(world[j]) @ world_scaled[n] @ ibm_skin[k]
    skin_to_joint = np.array([joint_of[n] for n in skin.joints], dtype=np.int64)

    binds = expression_binds(g, extensions, f.source)
    mesh = _read_mesh(f, [nodes[i].mesh for i in mesh_nodes], skin_to_joint, ibm, binds)
    humanoid = {bone: joint_of[n] for bone, n in hum_nodes.items()}
    name = ((extensions.get("VRMC_vrm") or {}).get("meta") or {}).get("name") or nodes[mesh_nodes[0]].name or path.stem

    if springs is not None:
        settings = springs.remapped(joint_of)
    elif secondary is not None:
        settings, names, parents, translations, rotations, ibm = _vrm0_springs(
            secondary, nodes, joint_of, world, names, parents, translations, rotations, ibm
        )
        mesh = _with_ibm(mesh, ibm)
    else:
        settings = SpringSettings()
    if vrm_version == "0.x":
        turn = np.diag([-1.0, 1.0, -1.0])  # 180 degrees about +y
        roots = np.array(parents) < 0
        translations[roots] = translations[roots] @ turn.T
        rotations[roots] = matrix_to_quat(turn @ quat_to_matrix(rotations[roots]))
        settings = _turn_gravity(settings, turn)
    skeleton = Skeleton(names, parents, translations, rotations, humanoid, source=f.source)
    return Character(skeleton, mesh, settings, name=str(name), source=f.source)


def _with_ibm(mesh: SkinnedMesh, ibm: np.ndarray) -> SkinnedMesh:
    return replace(mesh, inverse_bind_matrices=ibm)


def _turn_gravity(settings: SpringSettings, turn: np.ndarray) -> SpringSettings:
    chains = tuple(
        SpringChain(
            c.joints,
            tuple(
                SpringJointSettings(
                    s.stiffness, s.gravity_power, tuple(turn @ np.asarray(s.gravity_dir)), s.drag, s.hit_radius
                )
                for s in c.settings
            ),
            c.collider_groups,
            c.name,
            c.center,
        )
        for c in settings.chains
    )
    return SpringSettings(chains, settings.colliders, settings.collider_groups)


def _depth_first(nodes, parent, wanted) -> list[int]:
    out: list[int] = []
    stack = [n for n in sorted(wanted, reverse=True) if parent[n] < 0 or parent[n] not in wanted]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(c for c in reversed(nodes[n].children or []) if c in wanted)
    return out


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            n = f"{n}.{seen[n]}"
        seen.setdefault(n, 0)
        out.append(n)
    return out


def _read_mesh(f: GltfFile, mesh_indices: list[int], skin_to_joint: np.ndarray, ibm: np.ndarray, binds=None):
    positions, triangles, joints, weights, colors, parts = [], [], [], [], [], []
    morph_parts = []  # (mesh index, its primitive's targets, first vertex)
    part_names: list[str] = []
    any_color = False
    base = 0
    for mi in mesh_indices:
        mesh = f.gltf.meshes[mi]
        extras = mesh.extras if isinstance(mesh.extras, dict) else {}
        file_parts = extras.get("partNames")
        for pi, prim in enumerate(mesh.primitives):
            if prim.mode not in (None, 4):
                log.warning("%s: skipping mesh %d primitive %d (mode %s, not triangles)", f.source, mi, pi, prim.mode)
                continue
            attrs = prim.attributes
            if attrs.POSITION is None or attrs.JOINTS_0 is None or attrs.WEIGHTS_0 is None:
                raise RigFileError(
                    f.path,
                    "POSITION, JOINTS_0 and WEIGHTS_0 on every skinned primitive",
                    f"mesh {mi} primitive {pi} without them",
                    "export with skin weights",
                )
            pos = f.accessor(attrs.POSITION).astype(np.float32)
            jnt = [f.accessor(attrs.JOINTS_0)]
            wts = [f.accessor(attrs.WEIGHTS_0).astype(np.float32)]
            if getattr(attrs, "JOINTS_1", None) is not None and getattr(attrs, "WEIGHTS_1", None) is not None:
                jnt.append(f.accessor(attrs.JOINTS_1))
                wts.append(f.accessor(attrs.WEIGHTS_1).astype(np.float32))
            jnt_arr = np.concatenate(jnt, axis=1).astype(np.int64)
            if jnt_arr.size and jnt_arr.max() >= len(skin_to_joint):
                raise RigFileError(
                    f.path,
                    f"JOINTS_0 values below {len(skin_to_joint)} (the skin's joint count)",
                    f"up to {jnt_arr.max()}",
                    "re-export the skin",
                )
            w = np.concatenate(wts, axis=1)
            w[w.sum(axis=1) <= 0, 0] = 1.0  # unweighted vertices follow their first listed joint
            sums = w.sum(axis=1)
            off = np.abs(sums - 1.0) > 1e-6  # quantized (8/16-bit) weights rarely sum to exactly 1
            w[off] /= sums[off, None]
            idx = (
                f.accessor(prim.indices).reshape(-1).astype(np.int64)
                if prim.indices is not None
                else np.arange(len(pos))
            )
            if len(idx) % 3:
                raise RigFileError(
                    f.path,
                    "a triangle index count divisible by 3",
                    f"{len(idx)} indices in mesh {mi} primitive {pi}",
                    "re-export the mesh",
                )
            col = np.ones((len(pos), 4), dtype=np.float32)
            if attrs.COLOR_0 is not None:
                c = f.accessor(attrs.COLOR_0).astype(np.float64)
                col[:, :3] = linear_to_srgb(c[:, :3])
                if c.shape[1] == 4:
                    col[:, 3] = c[:, 3]
                any_color = True
            part_attr = getattr(attrs, "_PART", None)
            if part_attr is not None and file_parts:
                pid = f.accessor(part_attr).reshape(-1).astype(np.int64)
                offset = len(part_names)
                part_names.extend(str(p) for p in file_parts)
                parts.append(pid + offset)
            else:
                parts.append(np.full(len(pos), len(part_names)))
                part_names.append(f"{mesh.name or f'mesh{mi}'}.{pi}")
            if binds and prim.targets:
                morph_parts.append((mi, primitive_targets(f, prim), base))
            positions.append(pos)
            triangles.append(idx.reshape(-1, 3) + base)
            joints.append(jnt_arr)
            weights.append(w)
            colors.append(col)
            base += len(pos)
    if not positions:
        raise RigFileError(f.path, "at least one triangle primitive in the skinned mesh", "none", "export triangles")
    k = max(j.shape[1] for j in joints)
    joints = [np.pad(j, ((0, 0), (0, k - j.shape[1]))) for j in joints]
    weights = [np.pad(w, ((0, 0), (0, k - w.shape[1]))) for w in weights]
    joint_idx = skin_to_joint[np.concatenate(joints)]
    weights = np.concatenate(weights)
    used = np.nonzero(np.any(weights > 0, axis=0))[0]
    keep = int(used[-1]) + 1 if len(used) else 1  # drop the all-zero padding influences of the file
    joint_idx, weights = joint_idx[:, :keep], weights[:, :keep]
    dense: dict[str, np.ndarray] = {}
    for mi, targets, start in morph_parts:
        add_bound_targets(dense, binds, mi, targets, start, base, f.source)
    return SkinnedMesh(
        positions=np.concatenate(positions),
        triangles=np.concatenate(triangles),
        joints=joint_idx,
        weights=weights,
        inverse_bind_matrices=ibm,
        colors=np.concatenate(colors) if any_color else None,
        part_ids=np.concatenate(parts),
        part_names=tuple(part_names),
        name=f.gltf.meshes[mesh_indices[0]].name or "mesh",
        source=f.source,
        morphs=MorphTargets.from_dense(dense),
    )


def _vrm0_springs(secondary, nodes, joint_of, world, names, parents, translations, rotations, ibm):
    """VRM 0.x bone groups -> 1.0-style chains; leaf bones get a real 7 cm tail joint."""
    names, parents = list(names), list(parents)
    translations, rotations, ibm = list(translations), list(rotations), list(ibm)
    world = list(world)
    colliders, groups = vrm0_colliders(secondary)
    colliders = tuple(Collider(joint_of[c.joint], c.offset, c.radius, c.tail) for c in colliders)
    chains = []
    claimed: set[int] = set()
    for gi, group in enumerate(secondary.get("boneGroups") or []):
        settings = joint_settings(group)
        for root in group.get("bones") or []:
            starts = [int(root)]
            while starts:
                node = starts.pop(0)
                path = []
                while node is not None and node not in claimed:
                    claimed.add(node)
                    path.append(node)
                    kids = list(nodes[node].children or [])
                    starts.extend(kids[1:])
                    node = kids[0] if kids else None
                if not path:
                    continue
                joints = [joint_of[n] for n in path]
                if node is None:  # leaf: add the implicit tail
                    leaf = joints[-1]
                    p = parents[leaf]
                    direction = world[leaf][:3, 3] - world[p][:3, 3] if p >= 0 else np.array([0.0, -1.0, 0.0])
                    direction = direction / max(np.linalg.norm(direction), 1e-9) * _VRM0_TAIL_M
                    tail_world = world[leaf].copy()
                    tail_world[:3, 3] += direction
                    names.append(f"{names[leaf]}_tail")
                    parents.append(leaf)
                    translations.append(world[leaf][:3, :3].T @ direction)
                    rotations.append(np.array([0.0, 0.0, 0.0, 1.0]))
                    ibm.append(np.eye(4))
                    world.append(tail_world)
                    joints.append(len(names) - 1)
                else:
                    joints.append(joint_of[node])
                if len(joints) >= 2:
                    chains.append(
                        SpringChain(
                            tuple(joints),
                            tuple(settings for _ in joints),
                            tuple(int(c) for c in group.get("colliderGroups") or []),
                            name=str(group.get("comment") or f"group{gi}"),
                        )
                    )
    springs = SpringSettings(tuple(chains), colliders, groups)
    return springs, names, parents, np.array(translations), np.array(rotations), np.array(ibm)
