"""Write a :class:`Character` as a VRM 1.0-style binary glTF (.glb / .vrm).

Layout: one node per skeleton joint (node index == joint index, so the file
reads back in the same order), one skinned mesh node, one primitive carrying
POSITION, JOINTS_0/WEIGHTS_0 (and _1 past four influences), COLOR_0 (linear,
as glTF requires; we keep sRGB in memory) and our ``_PART`` attribute with the
part names in ``mesh.extras.partNames``. The humanoid map and spring settings
go in ``VRMC_vrm`` / ``VRMC_springBone``; the material is unlit
(``KHR_materials_unlit``) so viewers show the flat toon colours as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatar_app.rig.character import Character
from avatar_app.rig.gltf_file import srgb_to_linear
from avatar_app.rig.gltf_morphs import sparse_position_target, vrm1_expressions
from avatar_app.rig.vrm import vrm1_extensions

_COMPONENT = {np.dtype(np.float32): 5126, np.dtype(np.uint16): 5123, np.dtype(np.uint32): 5125}
_TYPES = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


class _Blob:
    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0
        self.views: list = []
        self.accessors: list = []

    def view(self, array: np.ndarray, target: int | None = None) -> int:
        import pygltflib  # noqa: PLC0415

        data = np.ascontiguousarray(array).tobytes()
        pad = (-self.size) % 4
        self.chunks.append(b"\0" * pad)
        self.size += pad
        self.views.append(pygltflib.BufferView(buffer=0, byteOffset=self.size, byteLength=len(data), target=target))
        self.chunks.append(data)
        self.size += len(data)
        return len(self.views) - 1

    def add(self, array: np.ndarray, target: int | None, minmax: bool = False) -> int:
        import pygltflib  # noqa: PLC0415

        array = np.ascontiguousarray(array)
        width = 1 if array.ndim == 1 else array.shape[1]
        self.view(array, target)
        flat = array.reshape(len(array), -1)
        acc = pygltflib.Accessor(
            bufferView=len(self.views) - 1,
            componentType=_COMPONENT[array.dtype],
            count=len(array),
            type=_TYPES[width],
            max=flat.max(axis=0).tolist() if minmax else None,
            min=flat.min(axis=0).tolist() if minmax else None,
        )
        self.accessors.append(acc)
        return len(self.accessors) - 1


def save_glb(character: Character, path) -> Path:
    """Write ``character`` to ``path`` (.glb or .vrm); returns the path."""
    import pygltflib  # noqa: PLC0415

    path = Path(path)
    skel, mesh = character.skeleton, character.mesh
    blob = _Blob()
    vertices = mesh.num_vertices
    influences = mesh.joints.shape[1]
    sets = max(1, -(-influences // 4))
    joints = np.zeros((vertices, sets * 4), dtype=np.uint16)
    weights = np.zeros((vertices, sets * 4), dtype=np.float32)
    joints[:, :influences] = mesh.joints
    weights[:, :influences] = mesh.weights
    attrs = pygltflib.Attributes(POSITION=blob.add(mesh.positions.astype(np.float32), 34962, minmax=True))
    for s in range(sets):
        setattr(attrs, f"JOINTS_{s}", blob.add(joints[:, 4 * s : 4 * s + 4], 34962))
        setattr(attrs, f"WEIGHTS_{s}", blob.add(weights[:, 4 * s : 4 * s + 4], 34962))
    if mesh.colors is not None:
        linear = mesh.colors.astype(np.float64).copy()
        linear[:, :3] = srgb_to_linear(linear[:, :3])
        attrs.COLOR_0 = blob.add(linear.astype(np.float32), 34962)
    extras = {}
    if mesh.part_ids is not None:
        attrs._PART = blob.add(mesh.part_ids.astype(np.uint16), 34962)
        extras["partNames"] = list(mesh.part_names)
    targets = []
    if mesh.morphs is not None:  # one target per expression, named like VRM 1.0 presets
        for name in mesh.morphs.names:
            targets.append({"POSITION": sparse_position_target(blob, pygltflib, mesh.morphs.dense(name, vertices))})
        extras["targetNames"] = list(mesh.morphs.names)
    indices = blob.add(mesh.triangles.reshape(-1).astype(np.uint32), 34963)
    ibm = blob.add(mesh.inverse_bind_matrices.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32), None)

    nodes = [
        pygltflib.Node(
            name=name,
            translation=[float(v) for v in skel.rest_translations[j]],
            rotation=[float(v) for v in skel.rest_rotations[j]],
            children=[int(c) for c in skel.children[j]],
        )
        for j, name in enumerate(skel.names)
    ]
    mesh_node = len(nodes)
    nodes.append(pygltflib.Node(name=character.name, mesh=0, skin=0))
    roots = [int(j) for j in np.nonzero(skel.parents < 0)[0]]
    material = pygltflib.Material(
        name="toon_flat",
        pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=1.0
        ),
        extensions={"KHR_materials_unlit": {}},
        doubleSided=True,
    )
    gltf = pygltflib.GLTF2(
        asset=pygltflib.Asset(version="2.0", generator="avatar_app.rig"),
        scene=0,
        scenes=[pygltflib.Scene(nodes=roots + [mesh_node])],
        nodes=nodes,
        meshes=[
            pygltflib.Mesh(
                name=mesh.name,
                primitives=[
                    pygltflib.Primitive(attributes=attrs, indices=indices, material=0, mode=4, targets=targets)
                ],
                extras=extras,
            )
        ],
        skins=[
            pygltflib.Skin(name="skin", joints=list(range(skel.num_joints)), inverseBindMatrices=ibm, skeleton=roots[0])
        ],
        materials=[material],
        accessors=blob.accessors,
        bufferViews=blob.views,
        buffers=[pygltflib.Buffer(byteLength=blob.size)],
        extensions=vrm1_extensions(character),
    )
    if mesh.morphs is not None:
        gltf.extensions["VRMC_vrm"]["expressions"] = vrm1_expressions(mesh.morphs.names, mesh_node)
    gltf.extensionsUsed = ["KHR_materials_unlit", *gltf.extensions.keys()]
    gltf.set_binary_blob(b"".join(blob.chunks))
    path.parent.mkdir(parents=True, exist_ok=True)
    gltf.save_binary(str(path))
    return path
