"""The proxy body: the ``mannequin-x`` wooden mannequin as a :class:`Character`.

Source: PyPI ``mannequin-x`` (Apache-2.0), ``mannequin/assets/wooden.npz`` —
24,256 vertices, 48,396 triangles, 54 SMPL-X joints, up to 8 influences. We
read the raw asset (not the package runtime) and put it in our convention:

* joints renamed to VRM 1.0 humanoid bones (all 52 kept joints are humanoid;
  SMPL-X's zero-length ``L_Hand``/``R_Hand`` are dropped, fingers hang off the
  wrists), joint positions made exactly left/right symmetric;
* the four strongest influences per vertex, and the asset's rigid torso
  blocks bound to one joint each, as the package's own runtime does;
* rest pose **A-pose**: the T-pose asset with upper arms lowered to
  ``arm_angle_deg`` (default 40) below horizontal. A-pose because a T-pose is wider than it is
  tall (1.78 m span, 1.73 m height) and would leave the UDP cube;
* metres, +y up, facing +z (+x is the character's left, as in VRM 1.0), feet
  on y=0, centred on x=z=0, identity rest rotations.

The asset is slightly asymmetric in its torso (up to 16 mm between a vertex
and its mirror image); we keep its vertices as they are.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from avatar_app.rig.character import Character, recentred
from avatar_app.rig.errors import RigFileError
from avatar_app.rig.quaternion import identity_quat, quat_from_axis_angle, quat_to_matrix
from avatar_app.rig.skeleton import Skeleton
from avatar_app.rig.skinning import SkinnedMesh

ASSET = "mannequin/assets/wooden.npz"

SMPLX_TO_VRM = {
    "Pelvis": "hips",
    "Torso": "spine",
    "Spine": "chest",
    "Chest": "upperChest",
    "Neck": "neck",
    "Head": "head",
    "L_Hip": "leftUpperLeg",
    "L_Knee": "leftLowerLeg",
    "L_Ankle": "leftFoot",
    "L_Toe": "leftToes",
    "R_Hip": "rightUpperLeg",
    "R_Knee": "rightLowerLeg",
    "R_Ankle": "rightFoot",
    "R_Toe": "rightToes",
    "L_Thorax": "leftShoulder",
    "L_Shoulder": "leftUpperArm",
    "L_Elbow": "leftLowerArm",
    "L_Wrist": "leftHand",
    "R_Thorax": "rightShoulder",
    "R_Shoulder": "rightUpperArm",
    "R_Elbow": "rightLowerArm",
    "R_Wrist": "rightHand",
}
for _side, _vrm in (("L", "left"), ("R", "right")):
    for _n, _part in enumerate(("Metacarpal", "Proximal", "Distal"), start=1):
        SMPLX_TO_VRM[f"{_side}_Thumb{_n}"] = f"{_vrm}Thumb{_part}"
    for _src, _dst in (("Index", "Index"), ("Middle", "Middle"), ("Ring", "Ring"), ("Pinky", "Little")):
        for _n, _part in enumerate(("Proximal", "Intermediate", "Distal"), start=1):
            SMPLX_TO_VRM[f"{_side}_{_src}{_n}"] = f"{_vrm}{_dst}{_part}"
_DROPPED = {"L_Hand": "L_Wrist", "R_Hand": "R_Wrist"}  # zero-length joints between wrist and fingers


def _read_asset() -> dict[str, np.ndarray]:
    try:
        resource = resources.files("mannequin") / "assets" / "wooden.npz"
        with resource.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ModuleNotFoundError as exc:
        raise RigFileError(
            "mannequin-x", "the installed 'mannequin-x' package", "it is not installed", "pip install mannequin-x"
        ) from exc
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise RigFileError(
            ASSET, "the wooden mannequin asset of mannequin-x", f"an unreadable asset ({exc})", "reinstall mannequin-x"
        ) from exc


def _mirror_name(name: str) -> str:
    if name.startswith("L_"):
        return "R_" + name[2:]
    if name.startswith("R_"):
        return "L_" + name[2:]
    return name


def load_mannequin_body(arm_angle_deg: float = 40.0) -> Character:
    """The mannequin body in our convention (see module docstring)."""
    a = _read_asset()
    src_names = [str(n) for n in a["joint_names"]]
    src_parents = a["parents"].astype(int)
    pos = a["skin_source_joint_positions"].astype(np.float64)
    # exact left/right symmetry of the joints
    sym = pos.copy()
    for j, n in enumerate(src_names):
        m = src_names.index(_mirror_name(n))
        if m == j:
            sym[j, 0] = 0.0
        else:
            sym[j] = 0.5 * (pos[j] + pos[m] * (-1.0, 1.0, 1.0))
    pos = sym

    keep = [j for j, n in enumerate(src_names) if n not in _DROPPED]
    new_index = {old: k for k, old in enumerate(keep)}
    for dropped, into in _DROPPED.items():
        new_index[src_names.index(dropped)] = new_index[src_names.index(into)]
    names = [SMPLX_TO_VRM[src_names[j]] for j in keep]
    parents = []
    for j in keep:
        p = src_parents[j]
        while p >= 0 and src_names[p] in _DROPPED:
            p = src_parents[p]
        parents.append(new_index[p] if p >= 0 else -1)
    tpose = pos[keep]

    # skin: four strongest influences, rigid blocks on one joint (as the package runtime binds it)
    src_joints = a["skin_joint_indices"].astype(np.int64)
    src_weights = a["skin_weights"].astype(np.float64)
    strongest = np.argsort(-src_weights, axis=1, kind="stable")[:, :4]
    joints = np.take_along_axis(src_joints, strongest, axis=1)
    weights = np.take_along_axis(src_weights, strongest, axis=1)
    weights /= weights.sum(axis=1, keepdims=True)
    rigid = a["skin_rigid_joint_indices"].astype(np.int64)
    is_rigid = rigid >= 0
    joints[is_rigid] = rigid[is_rigid, None]
    weights[is_rigid] = (1.0, 0.0, 0.0, 0.0)
    joints = np.vectorize(new_index.__getitem__)(joints)

    # A-pose: lower each upper arm about z at the shoulder joint, by linear-blend skinning
    count = len(names)
    rest_t = np.broadcast_to(np.eye(4), (count, 4, 4)).copy()
    rest_t[:, :3, 3] = tpose
    posed = rest_t.copy()
    children = [[k for k in range(count) if parents[k] == j] for j in range(count)]
    for side, sign in (("left", -1.0), ("right", 1.0)):
        top = names.index(f"{side}UpperArm")
        arm = tpose[names.index(f"{side}LowerArm")] - tpose[top]
        elevation = np.degrees(np.arctan2(arm[1], abs(arm[0])))  # the asset's arms rise 2.5 degrees
        turn = np.eye(4)
        turn[:3, :3] = quat_to_matrix(
            quat_from_axis_angle([0.0, 0.0, 1.0], np.radians(sign * (arm_angle_deg + elevation)))
        )
        pivot = np.eye(4)
        pivot[:3, 3] = tpose[top]
        about = pivot @ turn @ np.linalg.inv(pivot)
        stack = [top]
        while stack:
            j = stack.pop()
            posed[j] = about @ rest_t[j]
            stack.extend(children[j])
    skin_m = posed @ np.linalg.inv(rest_t)
    vertices = a["vertices"].astype(np.float64)
    homog = np.concatenate([vertices, np.ones((len(vertices), 1))], axis=1)
    blended = np.einsum("vk,vkij->vij", weights, skin_m[joints])
    apose_vertices = np.einsum("vij,vj->vi", blended, homog)[:, :3]
    joint_pos = posed[:, :3, 3]

    translations = np.array([joint_pos[j] - (joint_pos[p] if p >= 0 else 0.0) for j, p in enumerate(parents)])
    humanoid = {n: j for j, n in enumerate(names)}
    skeleton = Skeleton(names, parents, translations, identity_quat(count), humanoid, source="mannequin body")
    part_ids = np.zeros(len(vertices), dtype=np.int16)
    part_names = tuple(str(n) for n in a["skin_part_names"])
    for k, (start, n) in enumerate(zip(a["skin_part_vertex_starts"], a["skin_part_vertex_counts"])):
        part_ids[start : start + n] = k
    mesh = SkinnedMesh(
        positions=apose_vertices,
        triangles=a["faces"],
        joints=joints,
        weights=weights,
        inverse_bind_matrices=np.linalg.inv(skeleton.rest_world_matrices),
        part_ids=part_ids,
        part_names=part_names,
        name="mannequin_body",
        source="mannequin body",
    )
    return recentred(
        Character(skeleton, mesh, name="mannequin", source="mannequin body"), centre_x=False
    )  # x=0 is the symmetry plane
