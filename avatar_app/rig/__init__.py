"""Skeleton, skinning, spring bones, motion and the default character.

Conventions: metres; +y up; characters face +z (+x is the character's
left, as in VRM 1.0); quaternions are xyzw (glTF order); built characters
stand in an A-pose with feet on y=0, centred on x=z=0.

Typical use::

    character = build_default_avatar()          # or load_gltf("avatar.vrm")
    animator = CharacterAnimator(character)      # FK + spring bones + skinning
    motion = DemoMotion()                        # or load_bvh("walk.bvh")
    vertices = animator.update(motion.pose_at(t), frame_dt)   # [V,3] float32
    udp_xyz = rest_udp_coordinates(character)    # [V,3] float32, per vertex
    triangles = character.mesh.triangles
"""

from avatar_app.rig.animator import CharacterAnimator
from avatar_app.rig.bvh import BvhMotion, load_bvh
from avatar_app.rig.character import Character, recentred, rest_udp_coordinates, translated
from avatar_app.rig.default_avatar import build_default_avatar
from avatar_app.rig.demo_motion import DemoMotion
from avatar_app.rig.errors import MotionFileError, RigFileError
from avatar_app.rig.gltf_read import load_gltf
from avatar_app.rig.gltf_write import save_glb
from avatar_app.rig.humanoid import HUMANOID_BONES, HumanoidPose, HumanoidRig
from avatar_app.rig.mannequin import load_mannequin_body
from avatar_app.rig.skeleton import Pose, Skeleton, forward_kinematics
from avatar_app.rig.skinning import SkinnedMesh
from avatar_app.rig.spring_settings import Collider, ColliderGroup, SpringChain, SpringJointSettings, SpringSettings
from avatar_app.rig.springs import SpringBoneSystem

__all__ = [
    "HUMANOID_BONES",
    "BvhMotion",
    "Character",
    "CharacterAnimator",
    "Collider",
    "ColliderGroup",
    "DemoMotion",
    "HumanoidPose",
    "HumanoidRig",
    "MotionFileError",
    "Pose",
    "RigFileError",
    "Skeleton",
    "SkinnedMesh",
    "SpringBoneSystem",
    "SpringChain",
    "SpringJointSettings",
    "SpringSettings",
    "build_default_avatar",
    "forward_kinematics",
    "load_bvh",
    "load_gltf",
    "load_mannequin_body",
    "recentred",
    "rest_udp_coordinates",
    "save_glb",
    "translated",
]
