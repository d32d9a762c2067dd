"""Hand-made glTF JSON files for the loader tests: a five-bone figure with a two-bone hair strand.

Nodes: 0 root -> 1 hips -> 2 spine -> 3 head -> 4 hair0 -> 5 hair1, 6 the skinned
mesh, 7 thumb (child of hips, for the VRM 0.x thumb renaming). Every vertex is
bound to one joint, so the expected rest positions are easy to write down.
"""

from __future__ import annotations

import base64
import copy
import json

import numpy as np

NODES = [
    {"name": "root", "children": [1]},
    {"name": "hips", "translation": [0.0, 1.0, 0.0], "children": [2, 7]},
    {"name": "spine", "translation": [0.0, 0.2, 0.0], "children": [3]},
    {"name": "head", "translation": [0.0, 0.4, 0.05], "children": [4]},
    {"name": "hair0", "translation": [0.0, 0.1, -0.1], "children": [5]},
    {"name": "hair1", "translation": [0.0, -0.1, 0.0]},
    {"name": "body", "mesh": 0, "skin": 0},
    {"name": "thumb", "translation": [0.3, 0.0, 0.0]},
]
SKIN_JOINTS = [1, 2, 3, 4, 5]
VERTEX_JOINT = [0, 0, 1, 2, 2, 3]  # index into SKIN_JOINTS per vertex
POSITIONS = np.array(
    [[-0.1, 1.0, 0.0], [0.1, 1.0, 0.0], [0.0, 1.2, 0.0], [-0.1, 1.6, 0.05], [0.1, 1.6, 0.05], [0.0, 1.7, -0.05]],
    dtype=np.float32,
)
INDICES = np.array([0, 1, 2, 2, 1, 4, 2, 4, 3, 3, 4, 5], dtype=np.uint16)

VRM1 = {
    "VRMC_vrm": {
        "specVersion": "1.0",
        "meta": {"name": "fixture1", "authors": ["tests"], "licenseUrl": "https://vrm.dev/licenses/1.0/"},
        "humanoid": {"humanBones": {"hips": {"node": 1}, "spine": {"node": 2}, "head": {"node": 3}}},
    },
    "VRMC_springBone": {
        "specVersion": "1.0",
        "colliders": [
            {"node": 3, "shape": {"sphere": {"offset": [0.0, 0.1, 0.0], "radius": 0.05}}},
            {"node": 2, "shape": {"capsule": {"offset": [0.0, 0.0, 0.0], "radius": 0.08, "tail": [0.0, 0.3, 0.0]}}},
        ],
        "colliderGroups": [{"name": "head", "colliders": [0]}, {"name": "torso", "colliders": [1]}],
        "springs": [
            {
                "name": "hair",
                "colliderGroups": [0, 1],
                "center": 3,
                "joints": [
                    {
                        "node": 4,
                        "hitRadius": 0.02,
                        "stiffness": 0.7,
                        "gravityPower": 0.3,
                        "gravityDir": [0, -1, 0],
                        "dragForce": 0.25,
                    },
                    {"node": 5},
                ],
            }
        ],
    },
}

VRM0 = {
    "VRM": {
        "specVersion": "0.0",
        "humanoid": {
            "humanBones": [
                {"bone": "hips", "node": 1},
                {"bone": "spine", "node": 2},
                {"bone": "head", "node": 3},
                {"bone": "leftThumbProximal", "node": 7},
            ]
        },
        "secondaryAnimation": {
            "boneGroups": [
                {
                    "comment": "hair",
                    "stiffiness": 0.5,
                    "gravityPower": 0.2,
                    "gravityDir": {"x": 0.0, "y": -1.0, "z": 0.0},
                    "dragForce": 0.4,
                    "center": -1,
                    "hitRadius": 0.02,
                    "bones": [4],
                    "colliderGroups": [0],
                }
            ],
            "colliderGroups": [{"node": 3, "colliders": [{"offset": {"x": 0.0, "y": 0.1, "z": 0.02}, "radius": 0.05}]}],
        },
    }
}


def _rest_world(nodes) -> dict[int, np.ndarray]:
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    world = {}
    for i in range(len(nodes)):
        chain = []
        j = i
        while j is not None:
            chain.append(j)
            j = parent.get(j)
        m = np.eye(4)
        for j in reversed(chain):
            local = np.eye(4)
            local[:3, 3] = nodes[j].get("translation", [0, 0, 0])
            local[:3, :3] *= nodes[j].get("scale", [1, 1, 1])
            m = m @ local
        world[i] = m
    return world


def gltf_json(extensions: dict | None = None, skinned: bool = True, root_scale: float | None = None) -> dict:
    nodes = copy.deepcopy(NODES)
    if root_scale is not None:
        nodes[0]["scale"] = [root_scale] * 3
    world = _rest_world(nodes)
    ibm = np.stack([np.linalg.inv(world[j]) for j in SKIN_JOINTS]).transpose(0, 2, 1).astype(np.float32)  # column-major
    # positions in bind space: the rest world positions pulled back through the joint's bind matrix
    local = np.array(
        [(np.linalg.inv(world[SKIN_JOINTS[k]]) @ np.append(p, 1.0))[:3] for p, k in zip(POSITIONS, VERTEX_JOINT)]
    )
    bind = np.array([(world[SKIN_JOINTS[k]] @ np.append(p, 1.0))[:3] for p, k in zip(local, VERTEX_JOINT)]).astype(
        np.float32
    )
    joints = np.zeros((len(POSITIONS), 4), dtype=np.uint8)
    joints[:, 0] = VERTEX_JOINT
    weights = np.zeros((len(POSITIONS), 4), dtype=np.float32)
    weights[:, 0] = 1.0
    chunks = [
        bind.tobytes(),
        joints.tobytes(),
        weights.tobytes(),
        INDICES.tobytes() + b"\0" * (-INDICES.nbytes % 4),
        ibm.tobytes(),
    ]
    views, offset = [], 0
    for c in chunks:
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(c)})
        offset += len(c)
    data = b"".join(chunks)
    accessors = [
        {
            "bufferView": 0,
            "componentType": 5126,
            "count": len(POSITIONS),
            "type": "VEC3",
            "min": bind.min(0).tolist(),
            "max": bind.max(0).tolist(),
        },
        {"bufferView": 1, "componentType": 5121, "count": len(POSITIONS), "type": "VEC4"},
        {"bufferView": 2, "componentType": 5126, "count": len(POSITIONS), "type": "VEC4"},
        {"bufferView": 3, "componentType": 5123, "count": len(INDICES), "type": "SCALAR"},
        {"bufferView": 4, "componentType": 5126, "count": len(SKIN_JOINTS), "type": "MAT4"},
    ]
    doc = {
        "asset": {"version": "2.0", "generator": "hand-made test fixture"},
        "scene": 0,
        "scenes": [{"nodes": [0, 6]}],
        "nodes": nodes,
        "meshes": [
            {
                "name": "body",
                "primitives": [{"attributes": {"POSITION": 0, "JOINTS_0": 1, "WEIGHTS_0": 2}, "indices": 3}],
            }
        ],
        "skins": [{"joints": SKIN_JOINTS, "inverseBindMatrices": 4}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [
            {"byteLength": len(data), "uri": "data:application/octet-stream;base64," + base64.b64encode(data).decode()}
        ],
    }
    if not skinned:
        del doc["nodes"][6]["skin"]
        del doc["skins"]
    if extensions:
        doc["extensions"] = copy.deepcopy(extensions)
        doc["extensionsUsed"] = list(extensions)
    return doc


def write_gltf(path, **kwargs) -> str:
    path.write_text(json.dumps(gltf_json(**kwargs), indent=1))
    return str(path)
