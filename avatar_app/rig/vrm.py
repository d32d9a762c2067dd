"""VRM extension JSON <-> our humanoid map and spring settings.

Reads VRM 1.0 (``VRMC_vrm`` humanoid, ``VRMC_springBone``) and VRM 0.x
(``VRM.humanoid``, ``VRM.secondaryAnimation``); writes the 1.0 layout. All
indices here are glTF node indices; the loader maps them to joints.
"""

from __future__ import annotations

import logging

from avatar_app.rig.humanoid import BONE_INDEX, VRM0_TO_VRM1
from avatar_app.rig.spring_settings import Collider, ColliderGroup, SpringChain, SpringJointSettings, SpringSettings

log = logging.getLogger(__name__)

VRM1_LICENSE_URL = "https://vrm.dev/licenses/1.0/"


def humanoid_nodes(extensions: dict, source: str) -> tuple[dict[str, int], str | None]:
    """``({vrm1_bone_name: node}, version)`` where version is "1.0", "0.x" or None."""
    vrm1 = (extensions or {}).get("VRMC_vrm")
    if isinstance(vrm1, dict) and isinstance(vrm1.get("humanoid"), dict):
        bones = vrm1["humanoid"].get("humanBones") or {}
        out = {name: int(b["node"]) for name, b in bones.items() if isinstance(b, dict) and "node" in b}
        return _known(out, source), "1.0"
    vrm0 = (extensions or {}).get("VRM")
    if isinstance(vrm0, dict) and isinstance(vrm0.get("humanoid"), dict):
        out = {}
        for b in vrm0["humanoid"].get("humanBones") or []:
            if isinstance(b, dict) and "bone" in b and b.get("node", -1) is not None and int(b.get("node", -1)) >= 0:
                out[VRM0_TO_VRM1.get(b["bone"], b["bone"])] = int(b["node"])
        return _known(out, source), "0.x"
    return {}, None


def _known(bones: dict[str, int], source: str) -> dict[str, int]:
    unknown = sorted(set(bones) - set(BONE_INDEX))
    if unknown:
        log.warning("%s: ignoring unknown humanoid bones %s", source, unknown[:5])
    return {k: v for k, v in bones.items() if k in BONE_INDEX}


_DEFAULT_JOINT_SETTINGS = SpringJointSettings()


def joint_settings(d: dict, defaults: SpringJointSettings = _DEFAULT_JOINT_SETTINGS) -> SpringJointSettings:
    gravity = d.get("gravityDir", defaults.gravity_dir)
    if isinstance(gravity, dict):  # VRM 0.x writes {x, y, z}
        gravity = (gravity.get("x", 0.0), gravity.get("y", -1.0), gravity.get("z", 0.0))
    return SpringJointSettings(
        stiffness=float(
            d.get("stiffness", d.get("stiffiness", defaults.stiffness))
        ),  # sic: VRM 0.x spells it "stiffiness"
        gravity_power=float(d.get("gravityPower", defaults.gravity_power)),
        gravity_dir=tuple(float(g) for g in gravity),
        drag=float(d.get("dragForce", defaults.drag)),
        hit_radius=float(d.get("hitRadius", defaults.hit_radius)),
    )


def springs_vrm1(extensions: dict, source: str) -> SpringSettings | None:
    """VRMC_springBone 1.0 in node indices, or None when absent."""
    ext = (extensions or {}).get("VRMC_springBone")
    if not isinstance(ext, dict):
        return None
    colliders = []
    kept: dict[int, int] = {}  # file collider index -> ours (colliders on missing nodes are dropped)
    for k, c in enumerate(ext.get("colliders") or []):
        if int(c.get("node", -1)) < 0:
            log.warning("%s: collider %d has no node; dropped", source, k)
            continue
        kept[k] = len(colliders)
        shape = c.get("shape") or {}
        if "sphere" in shape:
            s = shape["sphere"]
            colliders.append(
                Collider(int(c["node"]), tuple(map(float, s.get("offset", (0, 0, 0)))), float(s.get("radius", 0.0)))
            )
        elif "capsule" in shape:
            s = shape["capsule"]
            colliders.append(
                Collider(
                    int(c["node"]),
                    tuple(map(float, s.get("offset", (0, 0, 0)))),
                    float(s.get("radius", 0.0)),
                    tuple(map(float, s.get("tail", (0, 0, 0)))),
                )
            )
        else:
            log.warning("%s: collider %d has neither a sphere nor a capsule; using a point", source, k)
            colliders.append(Collider(int(c["node"])))
    groups = tuple(
        ColliderGroup(tuple(kept[int(i)] for i in g.get("colliders") or [] if int(i) in kept), str(g.get("name", "")))
        for g in ext.get("colliderGroups") or []
    )
    chains = []
    for k, s in enumerate(ext.get("springs") or []):
        joints = s.get("joints") or []
        if len(joints) < 2:
            log.warning("%s: spring %d has fewer than two joints; skipped", source, k)
            continue
        chains.append(
            SpringChain(
                joints=tuple(int(j["node"]) for j in joints),
                settings=tuple(joint_settings(j) for j in joints),
                collider_groups=tuple(int(g) for g in s.get("colliderGroups") or []),
                name=str(s.get("name", f"spring{k}")),
                center=int(s["center"]) if s.get("center") is not None else None,
            )
        )
    return SpringSettings(tuple(chains), tuple(colliders), groups)


def vrm0_secondary(extensions: dict) -> dict | None:
    vrm0 = (extensions or {}).get("VRM")
    sec = vrm0.get("secondaryAnimation") if isinstance(vrm0, dict) else None
    return sec if isinstance(sec, dict) else None


def vrm0_colliders(secondary: dict) -> tuple[tuple[Collider, ...], tuple[ColliderGroup, ...]]:
    colliders: list[Collider] = []
    groups = []
    for g in secondary.get("colliderGroups") or []:
        node = int(g.get("node", -1))
        ids = []
        if node < 0:  # keep the group (springs index groups by position), without colliders
            groups.append(ColliderGroup(()))
            continue
        for c in g.get("colliders") or []:
            off = c.get("offset") or {}
            # VRM 0.x stores collider offsets with z flipped (UniVRM's Unity-space export)
            offset = (float(off.get("x", 0.0)), float(off.get("y", 0.0)), -float(off.get("z", 0.0)))
            ids.append(len(colliders))
            colliders.append(Collider(node, offset, float(c.get("radius", 0.0))))
        groups.append(ColliderGroup(tuple(ids)))
    return tuple(colliders), tuple(groups)


def vrm1_extensions(character) -> dict:
    """``{"VRMC_vrm": ..., "VRMC_springBone": ...}`` with joint index == node index."""
    humanoid = {
        bone: {"node": int(j)}
        for bone, j in sorted(character.skeleton.humanoid.items(), key=lambda kv: BONE_INDEX[kv[0]])
    }
    out = {
        "VRMC_vrm": {
            "specVersion": "1.0",
            "meta": {
                "name": character.name,
                "version": "1",
                "authors": ["avatar_app"],
                "licenseUrl": VRM1_LICENSE_URL,
                "avatarPermission": "onlyAuthor",
                "commercialUsage": "personalNonProfit",
                "allowRedistribution": False,
            },
            "humanoid": {"humanBones": humanoid},
        }
    }
    springs = character.springs
    if springs.chains or springs.colliders:
        colliders = []
        for c in springs.colliders:
            if c.is_capsule:
                shape = {"capsule": {"offset": list(c.offset), "radius": c.radius, "tail": list(c.tail)}}
            else:
                shape = {"sphere": {"offset": list(c.offset), "radius": c.radius}}
            colliders.append({"node": int(c.joint), "shape": shape})
        chains = []
        for chain in springs.chains:
            joints = [
                {
                    "node": int(j),
                    "hitRadius": s.hit_radius,
                    "stiffness": s.stiffness,
                    "gravityPower": s.gravity_power,
                    "gravityDir": list(s.gravity_dir),
                    "dragForce": s.drag,
                }
                for j, s in zip(chain.joints, chain.settings)
            ]
            spring = {"name": chain.name, "joints": joints, "colliderGroups": list(chain.collider_groups)}
            if chain.center is not None:
                spring["center"] = int(chain.center)
            chains.append(spring)
        out["VRMC_springBone"] = {
            "specVersion": "1.0",
            "colliders": colliders,
            "colliderGroups": [{"name": g.name, "colliders": list(g.colliders)} for g in springs.collider_groups],
            "springs": chains,
        }
    return out
