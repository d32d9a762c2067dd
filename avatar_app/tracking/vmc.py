"""VMC protocol receiver: bone rotations, root transform and blendshapes over OSC/UDP.

VMC (Virtual Motion Capture protocol, https://protocol.vmc.info/) is OSC over UDP,
usually to port 39539. The messages we use, all in Unity's coordinates:

* ``/VMC/Ext/Bone/Pos  name px py pz qx qy qz qw`` — a humanoid bone's *local*
  position and rotation (relative to its parent), name = Unity HumanBodyBones name.
* ``/VMC/Ext/Root/Pos  name px py pz qx qy qz qw [sx sy sz ox oy oz]`` — the root.
* ``/VMC/Ext/Blend/Val name value`` — a blendshape value, staged;
  ``/VMC/Ext/Blend/Apply`` — apply every staged value at once (values not resent
  keep their last applied value).
* ``/VMC/Ext/OK available ...`` and ``/VMC/Ext/T time`` — sender status, recorded.

Unity is left-handed (x right, y up, z forward) and a humanoid faces +z. Ours is
right-handed, y up, and the character faces +z too (the rig's convention), so
the character's right (+x in Unity) is -x here: positions mirror x,
``(x, y, z) -> (-x, y, z)``, and rotations conjugate by that mirror,
``(qx, qy, qz, qw) -> (qx, -qy, -qz, qw)``. VMC senders normalise bones (rest
pose = identity local rotations), which matches a rig whose rest local
rotations are identity.

Bone names are mapped to VRM 1.0 humanoid names (lowerCamelCase); Unity's three
thumb bones Proximal/Intermediate/Distal are VRM 1.0's Metacarpal/Proximal/Distal.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from avatar_app.core.errors import SettingError

log = logging.getLogger(__name__)

DEFAULT_PORT = 39539

_UNITY_BODY = [
    "Hips",
    "Spine",
    "Chest",
    "UpperChest",
    "Neck",
    "Head",
    "Jaw",
    "LeftEye",
    "RightEye",
    "LeftShoulder",
    "LeftUpperArm",
    "LeftLowerArm",
    "LeftHand",
    "RightShoulder",
    "RightUpperArm",
    "RightLowerArm",
    "RightHand",
    "LeftUpperLeg",
    "LeftLowerLeg",
    "LeftFoot",
    "LeftToes",
    "RightUpperLeg",
    "RightLowerLeg",
    "RightFoot",
    "RightToes",
]


def _unity_to_vrm_names() -> dict[str, str]:
    names = {u: u[0].lower() + u[1:] for u in _UNITY_BODY}
    for side in ("Left", "Right"):
        low = side.lower()
        for unity, vrm in (("Proximal", "Metacarpal"), ("Intermediate", "Proximal"), ("Distal", "Distal")):
            names[f"{side}Thumb{unity}"] = f"{low}Thumb{vrm}"
        for finger in ("Index", "Middle", "Ring", "Little"):
            for part in ("Proximal", "Intermediate", "Distal"):
                names[f"{side}{finger}{part}"] = f"{low}{finger}{part}"
    return names


UNITY_TO_VRM: Mapping[str, str] = MappingProxyType(_unity_to_vrm_names())

# Unity -> ours: mirror the x axis (both frames have y up and the character facing +z).
_POSITION_SIGN = np.array([-1.0, 1.0, 1.0])
_QUATERNION_SIGN = np.array([1.0, -1.0, -1.0, 1.0])


def unity_position_to_ours(p) -> np.ndarray:
    return np.asarray(p, dtype=np.float64) * _POSITION_SIGN


def unity_rotation_to_ours(q) -> np.ndarray:
    """(x, y, z, w) in Unity's left-handed frame -> (x, y, z, w) in ours, normalised."""
    q = np.asarray(q, dtype=np.float64) * _QUATERNION_SIGN
    return q / np.linalg.norm(q)


def _finite_numbers(args) -> list[float] | None:
    """``args`` as floats, or None if any is not a finite int/float (OSC also carries strings,
    blobs, booleans, nil and NaN: tools/fuzz.py found each of them raising in a handler)."""
    values = []
    for v in args:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        values.append(float(v))
    return values


@dataclass(frozen=True)
class BoneTransform:
    """A local transform in our frame: position in metres, rotation (x, y, z, w). Read-only arrays."""

    position: np.ndarray
    rotation: np.ndarray

    def __post_init__(self):
        self.position.flags.writeable = False
        self.rotation.flags.writeable = False


@dataclass(frozen=True)
class VmcState:
    """A consistent copy of everything received so far (safe to keep and read anywhere)."""

    bones: Mapping[str, BoneTransform] = field(default_factory=dict)  # VRM humanoid names
    root: BoneTransform | None = None
    root_scale: np.ndarray | None = None  # VMC 2.1 extension, when sent
    root_offset: np.ndarray | None = None
    blendshapes: Mapping[str, float] = field(default_factory=dict)  # applied values only
    received_at: float = 0.0  # time.monotonic() of the last message; 0 before any
    messages: int = 0
    available: bool | None = None  # from /VMC/Ext/OK
    sender_time: float | None = None  # from /VMC/Ext/T
    unknown_bones: frozenset[str] = frozenset()


class VmcReceiver:
    """Listens for VMC on ``host:port`` on a named thread; `snapshot()` returns the latest state.

    ``port=0`` picks a free port (read it back from ``.port``). Use as a context
    manager or call `close()`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        try:
            from pythonosc.dispatcher import Dispatcher
            from pythonosc.osc_server import BlockingOSCUDPServer
        except ImportError as exc:
            raise SettingError(
                "VMC receiver", "python-osc installed", "it is missing", "pip install python-osc (the 'live' extra)"
            ) from exc
        if not (isinstance(port, int) and 0 <= port <= 65535):
            raise SettingError("vmc port", "an integer 0..65535", repr(port), f"use {DEFAULT_PORT}, the VMC default")
        self._lock = threading.Lock()
        self._bones: dict[str, BoneTransform] = {}
        self._root: BoneTransform | None = None
        self._root_scale = self._root_offset = None
        self._staged: dict[str, float] = {}
        self._applied: dict[str, float] = {}
        self._unknown: set[str] = set()
        self._received_at = 0.0
        self._messages = 0
        self._available: bool | None = None
        self._sender_time: float | None = None
        self.malformed = 0  # messages with the wrong arguments, ignored

        receiver = self

        class _Dispatcher(Dispatcher):
            """pythonosc catches only its own ParseError: a datagram it fails to decode otherwise (an
            address that is not UTF-8, found by tools/fuzz.py) printed a traceback from the server
            thread for every such packet. It counts as malformed instead."""

            def call_handlers_for_packet(self, data, client_address):
                try:
                    return super().call_handlers_for_packet(data, client_address)
                except (UnicodeDecodeError, IndexError, OverflowError, struct.error) as exc:
                    receiver.malformed += 1
                    log.debug("VMC: ignoring an undecodable packet (%s)", exc)
                    return []

        dispatcher = _Dispatcher()
        dispatcher.map("/VMC/Ext/Bone/Pos", self._on_bone)
        dispatcher.map("/VMC/Ext/Root/Pos", self._on_root)
        dispatcher.map("/VMC/Ext/Blend/Val", self._on_blend_value)
        dispatcher.map("/VMC/Ext/Blend/Apply", self._on_blend_apply)
        dispatcher.map("/VMC/Ext/OK", self._on_ok)
        dispatcher.map("/VMC/Ext/T", self._on_time)
        dispatcher.set_default_handler(self._on_other)
        try:
            self._server = BlockingOSCUDPServer((host, port), dispatcher)
        except OSError as exc:
            raise SettingError(
                f"vmc {host}:{port}",
                "a free UDP port",
                f"it cannot be bound ({exc.strerror or exc})",
                "close the other VMC receiver or choose another port",
            ) from exc
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"vmc-{self.port}", daemon=True
        )
        self._thread.start()
        log.info("VMC receiver listening on %s:%d", self.host, self.port)

    # -- handlers (server thread) -------------------------------------------------------------

    def _touch(self) -> None:
        self._received_at = time.monotonic()
        self._messages += 1

    @staticmethod
    def _transform(args) -> BoneTransform | None:
        """Position and rotation from ``args[1:8]``; None unless they are 7 finite numbers with a
        non-zero quaternion (a string, a blob, NaN or a zero rotation would poison the pose)."""
        values = _finite_numbers(args[1:8])
        if values is None or len(values) < 7 or not any(values[3:7]):
            return None
        return BoneTransform(unity_position_to_ours(values[:3]), unity_rotation_to_ours(values[3:7]))

    def _on_bone(self, address, *args) -> None:
        transform = self._transform(args) if len(args) >= 8 and isinstance(args[0], str) else None
        if transform is None:
            self.malformed += 1
            return
        with self._lock:
            self._touch()
            name = UNITY_TO_VRM.get(args[0])
            if name is None:
                if args[0] not in self._unknown:
                    log.info("VMC: ignoring unknown bone %r", args[0])
                self._unknown.add(args[0])
                return
            self._bones[name] = transform

    def _on_root(self, address, *args) -> None:
        transform = self._transform(args) if len(args) >= 8 else None
        if transform is None:
            self.malformed += 1
            return
        extension = _finite_numbers(args[8:14]) if len(args) >= 14 else None
        with self._lock:
            self._touch()
            self._root = transform
            if extension is not None:
                self._root_scale = np.array(extension[:3], dtype=np.float64)
                self._root_offset = unity_position_to_ours(extension[3:6])
                self._root_scale.flags.writeable = self._root_offset.flags.writeable = False

    def _on_blend_value(self, address, *args) -> None:
        value = _finite_numbers(args[1:2]) if len(args) >= 2 and isinstance(args[0], str) else None
        if value is None:
            self.malformed += 1
            return
        with self._lock:
            self._touch()
            self._staged[args[0]] = value[0]

    def _on_blend_apply(self, address, *args) -> None:
        with self._lock:
            self._touch()
            self._applied.update(self._staged)
            self._staged.clear()

    def _on_ok(self, address, *args) -> None:
        with self._lock:
            self._touch()
            if args:
                self._available = bool(args[0])

    def _on_time(self, address, *args) -> None:
        sender_time = _finite_numbers(args[:1]) if args else None
        with self._lock:
            self._touch()
            if sender_time is not None:
                self._sender_time = sender_time[0]

    def _on_other(self, address, *args) -> None:
        with self._lock:
            self._touch()

    # -- public -------------------------------------------------------------------------------

    def snapshot(self) -> VmcState:
        with self._lock:
            return VmcState(
                bones=MappingProxyType(dict(self._bones)),
                root=self._root,
                root_scale=self._root_scale,
                root_offset=self._root_offset,
                blendshapes=MappingProxyType(dict(self._applied)),
                received_at=self._received_at,
                messages=self._messages,
                available=self._available,
                sender_time=self._sender_time,
                unknown_bones=frozenset(self._unknown),
            )

    def close(self) -> None:
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2.0)
        self._thread = None

    def __enter__(self) -> VmcReceiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
