"""A small BVH clip for tests (the rig's loader and the pipeline's motion source): its joint
hierarchy, one frame's channel values from named joint rotations, and the file writer.

Importable from any test module (``tests/`` is on ``sys.path`` through the root conftest).
"""

from __future__ import annotations

from pathlib import Path

# A T-pose figure facing +z, left arm along +x, centimetres. Frame 0: rest. Frame 1: left arm
# raised 80 degrees (about +z), hips moved 10 cm to +x. Frame 2: left elbow bent 90 degrees forward.
HIERARCHY = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Chest
    {
      OFFSET 0 15 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT Neck
      {
        OFFSET 0 20 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT Head
        {
          OFFSET 0 8 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          End Site
          {
            OFFSET 0 18 0
          }
        }
      }
      JOINT LeftShoulder
      {
        OFFSET 4 18 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT LeftArm
        {
          OFFSET 12 0 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          JOINT LeftForeArm
          {
            OFFSET 28 0 0
            CHANNELS 3 Zrotation Xrotation Yrotation
            JOINT LeftHand
            {
              OFFSET 25 0 0
              CHANNELS 3 Zrotation Xrotation Yrotation
              End Site
              {
                OFFSET 18 0 0
              }
            }
          }
        }
      }
      JOINT RightShoulder
      {
        OFFSET -4 18 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT RightArm
        {
          OFFSET -12 0 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          JOINT RightForeArm
          {
            OFFSET -28 0 0
            CHANNELS 3 Zrotation Xrotation Yrotation
            JOINT RightHand
            {
              OFFSET -25 0 0
              CHANNELS 3 Zrotation Xrotation Yrotation
              End Site
              {
                OFFSET -18 0 0
              }
            }
          }
        }
      }
    }
  }
  JOINT LeftUpLeg
  {
    OFFSET 9 -5 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftLeg
    {
      OFFSET 0 -42 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT LeftFoot
      {
        OFFSET 0 -40 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        End Site
        {
          OFFSET 0 -8 12
        }
      }
    }
  }
  JOINT RightUpLeg
  {
    OFFSET -9 -5 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT RightLeg
    {
      OFFSET 0 -42 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT RightFoot
      {
        OFFSET 0 -40 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        End Site
        {
          OFFSET 0 -8 12
        }
      }
    }
  }
}
"""
JOINTS_WITH_CHANNELS = [
    "Hips",
    "Spine",
    "Chest",
    "Neck",
    "Head",
    "LeftShoulder",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "RightShoulder",
    "RightArm",
    "RightForeArm",
    "RightHand",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
]
CHANNELS = 6 + 3 * (len(JOINTS_WITH_CHANNELS) - 1)


def bvh_frame(hips=(0.0, 95.0, 0.0), **rotations) -> str:
    values = list(hips) + [0.0, 0.0, 0.0]
    for name in JOINTS_WITH_CHANNELS[1:]:
        values += list(rotations.get(name, (0.0, 0.0, 0.0)))  # (Z, X, Y) degrees, the channel order
    return " ".join(f"{v:g}" for v in values)


def write_bvh(
    path: Path, frames: list[str], declared: int | None = None, hierarchy: str = HIERARCHY, frame_time: float = 1 / 30
) -> Path:
    """``hierarchy`` + a MOTION section of ``frames`` (``declared`` overrides the frame count it states)."""
    count = len(frames) if declared is None else declared
    path.write_text(hierarchy + f"MOTION\nFrames: {count}\nFrame Time: {frame_time:.7f}\n" + "\n".join(frames) + "\n")
    return path
