"""Per-frame cost of the rig on the default avatar: FK, spring bones, skinning.

Run: ``.venv/bin/python tests/rig/bench_rig.py`` (not collected by pytest).
Reports the median and 90th percentile over a few hundred frames of the demo
motion at 60 fps and at 15 fps frame intervals.
"""

from __future__ import annotations

import time

import numpy as np

from avatar_app.rig import CharacterAnimator, DemoMotion, build_default_avatar, forward_kinematics


def _stats(samples: list[float]) -> str:
    ms = np.array(samples) * 1e3
    return f"median {np.median(ms):.2f} ms, p90 {np.percentile(ms, 90):.2f} ms"


def main(frames: int = 300) -> None:
    character = build_default_avatar()
    motion = DemoMotion()
    anim = CharacterAnimator(character)
    skeleton, mesh = character.skeleton, character.mesh
    print(
        f"default avatar: {mesh.num_vertices} vertices, {len(mesh.triangles)} triangles, "
        f"{skeleton.num_joints} joints, {len(character.springs.chains)} spring chains"
    )
    for fps in (60, 15):
        anim.reset()
        dt = 1.0 / fps
        pose_t, fk_t, spring_t, skin_t, total_t = [], [], [], [], []
        for i in range(frames):
            t = i * dt
            t0 = time.perf_counter()
            pose = anim.rig.to_pose(motion.pose_at(t))
            t1 = time.perf_counter()
            world = forward_kinematics(skeleton, pose)
            t2 = time.perf_counter()
            pose = anim.springs.step(pose, world, dt)
            world = forward_kinematics(skeleton, pose)
            t3 = time.perf_counter()
            mesh.skin(world)
            t4 = time.perf_counter()
            pose_t.append(t1 - t0)
            fk_t.append(t2 - t1)
            spring_t.append(t3 - t2)
            skin_t.append(t4 - t3)
            total_t.append(t4 - t1)
        print(f"{fps} fps frames:")
        print(f"  demo pose + humanoid->skeleton: {_stats(pose_t)}")
        print(f"  forward kinematics:             {_stats(fk_t)}")
        print(f"  spring bones (+ 2nd FK):        {_stats(spring_t)}")
        print(f"  skinning:                       {_stats(skin_t)}")
        print(f"  FK + springs + skinning:        {_stats(total_t)}")


if __name__ == "__main__":
    main()
