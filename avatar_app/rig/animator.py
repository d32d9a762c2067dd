"""One call per frame: pose -> forward kinematics -> spring bones -> skinning."""

from __future__ import annotations

import numpy as np

from avatar_app.rig.character import Character
from avatar_app.rig.expressions import Expression
from avatar_app.rig.humanoid import HumanoidPose, HumanoidRig
from avatar_app.rig.skeleton import Pose, forward_kinematics
from avatar_app.rig.springs import SpringBoneSystem


class CharacterAnimator:
    """Poses one character frame by frame, with spring-bone state between frames.

    ``update(pose, frame_dt)`` takes a :class:`HumanoidPose` (from the demo
    motion, a BVH file, tracking) or a skeleton :class:`Pose`, and returns the
    posed vertices ``[V,3]`` float32 in the same order as
    ``character.mesh.positions``. ``world_matrices`` holds the last frame's
    joint matrices (springs included). ``expression`` (an :class:`Expression`, optional)
    drives the character's face morphs, if it has any.
    """

    def __init__(self, character: Character, spring_dt: float = 1.0 / 120.0, springs: bool = True):
        self.character = character
        self.rig = HumanoidRig(character.skeleton) if "hips" in character.skeleton.humanoid else None
        self.springs = (
            SpringBoneSystem(character.skeleton, character.springs, dt=spring_dt)
            if springs and not character.springs.empty
            else None
        )
        self.world_matrices = character.skeleton.rest_world_matrices.copy()

    def reset(self) -> None:
        if self.springs is not None:
            self.springs.reset()

    def pose_for(self, pose: Pose | HumanoidPose) -> Pose:
        if isinstance(pose, HumanoidPose):
            if self.rig is None:
                raise ValueError(
                    f"{self.character.source}: has no humanoid map, so it cannot take a HumanoidPose; pass a Pose"
                )
            return self.rig.to_pose(pose)
        return pose

    def update(self, pose: Pose | HumanoidPose, frame_dt: float, expression: Expression | None = None) -> np.ndarray:
        skeleton = self.character.skeleton
        local = self.pose_for(pose)
        world = forward_kinematics(skeleton, local)
        if self.springs is not None:
            local = self.springs.step(local, world, frame_dt)
            world = forward_kinematics(skeleton, local)
        self.world_matrices = world
        mesh = self.character.mesh
        morph_weights = None if mesh.morphs is None else mesh.morphs.weights_for(expression)
        return mesh.skin(world, morph_weights)
