"""Spring-bone settings in the VRMC_springBone 1.0 shape (joints by skeleton index).

A chain ``joints = (a, b, c, d)`` rotates ``a``, ``b`` and ``c``; ``d`` is only
the tail of the last segment (VRM 1.0 semantics). ``joints[i+1]`` must be a
descendant of ``joints[i]``. VRM 0.x bone groups are converted to this shape
on load (their implicit 7 cm end tails become real joints).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SpringJointSettings:
    """Per-joint parameters; defaults are the VRMC_springBone 1.0 schema defaults.

    They mean what they mean in a VRM viewer running at 60 fps: ``stiffness``
    and ``gravity_power`` are per-frame pulls, ``drag`` the per-frame fraction
    of velocity lost. The simulation rescales them to its own substep.
    """

    stiffness: float = 1.0
    gravity_power: float = 0.0
    gravity_dir: tuple[float, float, float] = (0.0, -1.0, 0.0)
    drag: float = 0.5
    hit_radius: float = 0.0


@dataclass(frozen=True)
class SpringChain:
    joints: tuple[int, ...]
    settings: tuple[SpringJointSettings, ...] = ()
    collider_groups: tuple[int, ...] = ()
    name: str = ""
    center: int | None = None  # kept for round trips; the simulation runs in world space

    def __post_init__(self):
        object.__setattr__(self, "joints", tuple(int(j) for j in self.joints))
        settings = tuple(self.settings) or tuple(SpringJointSettings() for _ in self.joints)
        if len(settings) != len(self.joints):
            raise ValueError(f"spring chain {self.name!r}: {len(self.joints)} joints but {len(settings)} settings")
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "collider_groups", tuple(int(g) for g in self.collider_groups))


@dataclass(frozen=True)
class Collider:
    """Sphere (``tail is None``) or capsule from ``offset`` to ``tail``, both in the joint's local frame."""

    joint: int
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = 0.0
    tail: tuple[float, float, float] | None = None

    @property
    def is_capsule(self) -> bool:
        return self.tail is not None


@dataclass(frozen=True)
class ColliderGroup:
    colliders: tuple[int, ...]
    name: str = ""


@dataclass(frozen=True)
class SpringSettings:
    chains: tuple[SpringChain, ...] = ()
    colliders: tuple[Collider, ...] = ()
    collider_groups: tuple[ColliderGroup, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.chains

    def remapped(self, joint_map: np.ndarray | dict) -> SpringSettings:
        """The same settings with joint indices passed through ``joint_map``."""
        m = joint_map.__getitem__
        return SpringSettings(
            chains=tuple(
                SpringChain(
                    tuple(int(m(j)) for j in c.joints),
                    c.settings,
                    c.collider_groups,
                    c.name,
                    None if c.center is None else int(m(c.center)),
                )
                for c in self.chains
            ),
            colliders=tuple(Collider(int(m(c.joint)), c.offset, c.radius, c.tail) for c in self.colliders),
            collider_groups=self.collider_groups,
        )
