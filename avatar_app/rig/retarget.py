"""Guessing which joints of a foreign skeleton (BVH, FBX-style names) are which VRM humanoid bones.

Names are normalised (namespace such as ``mixamorig:`` removed, lower case,
separators dropped) and matched against aliases with the side as a prefix or
suffix (``LeftArm``, ``L_Arm``, ``upperarm_l``). Then the structure fixes what
names cannot: the spine chain is whatever lies between the hips and the neck
(``Spine/Spine1/Spine2`` in mixamo, ``LowerBack/Spine/Spine1`` in CMU), and a
missing upper/lower limb bone is taken from the parents of the hand or foot.
"""

from __future__ import annotations

import re

_SIDES = (("left", "left"), ("l", "left"), ("right", "right"), ("r", "right"))
_LIMB_WORDS = {
    "Shoulder": ("shoulder", "collar", "clavicle"),
    "UpperArm": ("arm", "upperarm", "uparm", "humerus"),
    "LowerArm": ("forearm", "lowerarm", "elbow", "radius"),
    "Hand": ("hand", "wrist"),
    "UpperLeg": ("upleg", "upperleg", "thigh", "femur", "hip"),
    "LowerLeg": ("leg", "lowerleg", "knee", "shin", "calf", "tibia"),
    "Foot": ("foot", "ankle"),
    "Toes": ("toebase", "toe", "toes", "ball"),
}
_FINGERS = {
    "thumb": "Thumb",
    "index": "Index",
    "middle": "Middle",
    "ring": "Ring",
    "pinky": "Little",
    "little": "Little",
}
_THUMB_PARTS = ("Metacarpal", "Proximal", "Distal")
_FINGER_PARTS = ("Proximal", "Intermediate", "Distal")
_CENTRE = {"hips": "hips", "hip": "hips", "pelvis": "hips", "neck": "neck", "head": "head"}
_SKIP = ("twist", "roll", "share", "end", "nub", "site")


def normalize_name(name: str) -> str:
    base = name.rsplit(":", 1)[-1]
    base = re.sub(r"^mixamorig\d*[_:]?", "", base, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]", "", base.lower())


def _side_words() -> dict[str, str]:
    table: dict[str, str] = {}
    for bone, words in _LIMB_WORDS.items():
        for w in (*words, bone.lower()):
            table[w] = bone
    for key, finger in _FINGERS.items():
        parts = _THUMB_PARTS if finger == "Thumb" else _FINGER_PARTS
        table[key] = finger + parts[0]
        for n, part in enumerate(parts, start=1):
            table[f"{key}{n}"] = finger + part
            table[f"hand{key}{n}"] = finger + part
            table[f"{key}{part.lower()}"] = finger + part
    return table


_WORDS = _side_words()


def bone_for_name(name: str) -> str | None:
    """The VRM bone a joint name suggests, or None (spine bones are left to structure)."""
    n = normalize_name(name)
    if any(s in n for s in _SKIP):
        return None
    if n in _CENTRE:
        return _CENTRE[n]
    for prefix, side in _SIDES:
        if n.startswith(prefix) and n[len(prefix) :] in _WORDS:
            return side + _WORDS[n[len(prefix) :]]
        if n.endswith(prefix) and n[: -len(prefix)] in _WORDS:
            return side + _WORDS[n[: -len(prefix)]]
    return None


def guess_humanoid(names: list[str], parents: list[int]) -> dict[str, int]:
    """``{vrm_bone: joint index}`` for a skeleton given by names and parent indices."""
    depth = []
    for p in parents:
        depth.append(depth[p] + 1 if p >= 0 else 0)
    found: dict[str, int] = {}
    for j, name in enumerate(names):
        bone = bone_for_name(name)
        if bone is not None and (bone not in found or depth[j] < depth[found[bone]]):
            found[bone] = j  # duplicates (e.g. SMPL's L_Collar and L_Shoulder): the one nearer the root
    if "hips" not in found and names:
        found["hips"] = next(j for j, p in enumerate(parents) if p < 0)

    def parent_skipping(j: int) -> int:
        p = parents[j]
        while p >= 0 and any(s in normalize_name(names[p]) for s in ("twist", "roll")):
            p = parents[p]
        return p

    for side in ("left", "right"):
        for end, mid, top in (("Hand", "LowerArm", "UpperArm"), ("Foot", "LowerLeg", "UpperLeg")):
            if f"{side}{end}" in found and f"{side}{mid}" not in found:
                found[f"{side}{mid}"] = parent_skipping(found[f"{side}{end}"])
            if f"{side}{mid}" in found and f"{side}{top}" not in found:
                found[f"{side}{top}"] = parent_skipping(found[f"{side}{mid}"])
    # the spine chain: joints strictly between hips and neck (or head)
    for bone in ("spine", "chest", "upperChest"):
        found.pop(bone, None)
    top = found.get("neck", found.get("head"))
    if top is not None:
        chain = []
        p = parents[top]
        while p >= 0 and p != found["hips"]:
            chain.append(p)
            p = parents[p]
        if p == found["hips"]:
            chain.reverse()
            if "neck" not in found and "head" in found and len(chain) >= 2:
                found["neck"] = chain.pop()
            for bone, j in zip(("spine", "chest"), chain):
                found[bone] = j
            if len(chain) >= 3:
                found["upperChest"] = chain[-1]
    # one joint, two bones (a name and the structure disagree): keep the first claim
    inv: dict[int, str] = {}
    for bone, j in list(found.items()):
        if j in inv:
            del found[bone]
        else:
            inv[j] = bone
    return found
