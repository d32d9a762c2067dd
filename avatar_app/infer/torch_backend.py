"""PyTorch inference (CPU or CUDA, fp32): sheet encoding, frame rendering, UDP detection.

The app's split of CoNR (DESIGN.md §3):

* :class:`SheetEncoder` runs once per sheet: the parser *backbone* only (its U-Net
  head never feeds rendering, README pitfall 13), the reference RGBA at every
  level size and level 0's sheet-only first-conv part -> :class:`SheetState`.
* :class:`FrameRenderer` runs per frame: target encoder backbone, the six shader
  blocks with views in the batch, RGBA decoder.
* :class:`UDPDetector` is the parser's full U-Net on a picture (pose from image).

All run under ``torch.inference_mode`` in fp32; on CUDA, TF32 is switched off
(it breaks the conformance tolerances).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from avatar_app.core.errors import InputError, SettingError, SheetError
from avatar_app.core.frames import CharacterSheet, RgbaFrame, UdpMap, check_model_size
from avatar_app.infer.cpu_memory import retain_freed_memory
from avatar_app.infer.shader_runtime import ShaderRuntime, accelerate, level0_sheet_conv
from avatar_app.infer.sheet_state import SheetCache, SheetState
from avatar_app.models.checkpoint import weights_fingerprint
from avatar_app.models.conr import INPUT_MEAN, INPUT_STD, CoNR, resize

__all__ = [
    "SheetEncoder",
    "FrameRenderer",
    "UDPDetector",
    "render_udp",
    "sheet_tensors",
    "udp_tensor",
    "MAX_OPAQUE_MEAN_ALPHA",
]

log = logging.getLogger(__name__)

# The reference refuses a sheet view this opaque: CoNR needs a transparent background.
MAX_OPAQUE_MEAN_ALPHA = 0.95


def _device(device, retain_memory: bool = True) -> torch.device:
    device = torch.device(device)
    if device.type == "cpu" and retain_memory:
        retain_freed_memory()
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        # "cuda" -> "cuda:N": tensors report their index, and a state whose device compares
        # unequal is copied (and its CUDA graph captured again) on every frame.
        device = torch.device("cuda", torch.cuda.current_device())
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return device


def sheet_tensors(sheet: CharacterSheet, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Premultiplied rgb and alpha as float32 in [0, 1], ``[M,3,S,S]`` and ``[M,1,S,S]``."""
    rgb = torch.from_numpy(np.ascontiguousarray(sheet.rgb_premultiplied)).to(device).float().div_(255.0)
    alpha = torch.from_numpy(np.ascontiguousarray(sheet.alpha)).to(device).float().div_(255.0)
    return rgb, alpha


def udp_tensor(udp: UdpMap, device="cpu") -> torch.Tensor:
    """Target-encoder input ``cat(xyz * a, a)`` ``[1,4,H,W]`` (README §3, before normalisation).

    Like the reference, xyz is multiplied by the visibility even if it already was
    (the same for a 0/1 visibility).
    """
    d = torch.from_numpy(np.ascontiguousarray(udp.data)).to(device).permute(2, 0, 1).unsqueeze(0)
    return CoNR.target_input(d[:, :3], d[:, 3:4])


class SheetEncoder:
    """Character sheet -> :class:`SheetState`, once per sheet (memory/disk cached).

    ``cache=None`` keeps states in memory only; pass ``SheetCache()`` for the
    on-disk default (``~/.cache/avatar_app/sheets``) or ``SheetCache(dir)``.
    Build it after the weights are loaded: the cache key includes their hash.
    """

    def __init__(self, networks: CoNR, device="cpu", cache: SheetCache | None = None):
        self.networks = networks
        self.device = _device(device)
        self.parser = networks.udpparsernet.to(self.device).eval()
        self.level0 = level0_sheet_conv(networks.shader.decoder_blocks[0], networks.cfg.level(0)).to(self.device)
        self.cache = cache if cache is not None else SheetCache(None)
        self._fingerprint: str | None = None

    @property
    def weights_hash(self) -> str:
        """Hash of exactly what a SheetState depends on: parser backbone and level 0's first conv."""
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.parser.backbone)[:16] + weights_fingerprint(self.level0)[:16]
        return self._fingerprint

    def key(self, sheet: CharacterSheet) -> str:
        return SheetCache.make_key(sheet.content_hash(), self.weights_hash, sheet.size, self.networks.cfg.name)

    def check(self, sheet: CharacterSheet) -> None:
        """Refuse what the reference refuses: sizes that are not multiples of 128, opaque views."""
        check_model_size(sheet.size, "sheet size")
        mean_alpha = sheet.alpha.reshape(sheet.num_views, -1).mean(axis=1) / 255.0
        for i, a in enumerate(mean_alpha):
            if a >= MAX_OPAQUE_MEAN_ALPHA:
                name = sheet.names[i] if i < len(sheet.names) else f"view {i}"
                raise SheetError(
                    f"{sheet.source or 'sheet'}: {name}",
                    f"a character on a transparent background (mean alpha < {MAX_OPAQUE_MEAN_ALPHA})",
                    f"mean alpha {a:.3f}",
                    "cut the character out (PNG with alpha) so the background is transparent",
                )

    def encode(self, sheet: CharacterSheet) -> SheetState:
        self.check(sheet)
        key = self.key(sheet)
        state = self.cache.get(key, self.device)
        if state is not None:
            return state
        state = self.encode_tensors(*sheet_tensors(sheet, self.device), key=key)
        self.cache.put(state)
        return state

    def close(self) -> None:
        """Drop the modules and the level-0 conv made here (the cache belongs to the caller); idempotent."""
        self.parser = self.level0 = None

    @torch.inference_mode()
    def encode_tensors(self, rgb: torch.Tensor, alpha: torch.Tensor, key: str = "") -> SheetState:
        """rgb (premultiplied) ``[M,3,S,S]`` and alpha ``[M,1,S,S]`` in [0,1] -> state (no cache)."""
        rgb, alpha = rgb.to(self.device, torch.float32), alpha.to(self.device, torch.float32)
        feats = self.parser.forward_features((rgb - INPUT_MEAN) / INPUT_STD)
        ref = torch.cat([alpha * rgb, alpha], dim=1)
        sources = [torch.cat([resize(ref, f.shape[-2:]), f], dim=1) for f in feats[1:]] + [ref.contiguous()]
        level0_conv = self.level0(torch.cat([resize(ref, feats[0].shape[-2:]), feats[0]], dim=1))
        features = [feats[0]] + [s[:, 4:] for s in sources[:4]]
        return SheetState(key, self.networks.cfg.name, int(rgb.shape[-1]), features, sources, level0_conv)


PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def render_udp(renderer, state: SheetState, udp: UdpMap, device="cpu", read_back=None) -> RgbaFrame:
    """``renderer.render_tensor`` on one UDP map -> :class:`RgbaFrame` with its render time.

    The ``render`` of every backend's frame renderer; ``read_back`` turns the ``[H,W,4]``
    result into numpy (default: a plain copy to the host).
    """
    if udp.size != (state.size, state.size):
        raise InputError(
            "UDP map",
            f"{state.size}x{state.size} (the sheet's model size)",
            f"{udp.size[0]}x{udp.size[1]}",
            "render the pose at the sheet's size, or load the sheet at the pose's size",
        )
    t0 = time.perf_counter()
    hwc = renderer.render_tensor(state, udp_tensor(udp, device))[0].permute(1, 2, 0)
    data = read_back(hwc) if read_back is not None else hwc.contiguous().cpu().numpy()
    return RgbaFrame(data, timestamp=udp.timestamp, timings_ms={"render": 1000.0 * (time.perf_counter() - t0)})


class FrameRenderer:
    """:class:`SheetState` + target UDP -> premultiplied RGBA, views batched.

    ``fast=True`` lets ``avatar_app.infer.winograd.accelerate_shader``
    swap the shader's 3x3 stride-1 convs and 4x4 stride-2 transposed convs for
    faster equivalents on CPU; :attr:`acceleration` says what was used.
    ``retain_memory=True`` (CPU) keeps freed memory in the process so per-frame
    tensors do not page-fault (see ``cpu_memory.py``; process-wide).

    ``precision``: ``fp32`` (default, the conformance path), ``fp16`` (CUDA) or ``bf16``:
    convolutions under autocast, InstanceNorm and everything between shader blocks in
    FP32 (see ``shader_runtime.py``). On CUDA the blocks run channels_last too, and
    ``cuda_graphs=True`` captures the whole frame once per (sheet, frame count) and
    replays it; :meth:`render` reads back through a pinned host buffer.
    """

    def __init__(
        self,
        networks: CoNR,
        device="cpu",
        fast: bool = True,
        retain_memory: bool = True,
        precision: str = "fp32",
        cuda_graphs: bool = False,
    ):
        self.networks = networks
        self.device = _device(device, retain_memory)
        if precision not in PRECISIONS:
            raise SettingError(
                "precision", f"one of {', '.join(PRECISIONS)}", repr(precision), "use fp32, or fp16 on a CUDA GPU"
            )
        if precision == "fp16" and self.device.type != "cuda":
            raise SettingError(
                "precision", "fp16 on a CUDA device", f"fp16 on {self.device}", "use fp32 (or bf16) on the CPU"
            )
        if cuda_graphs and self.device.type != "cuda":
            raise SettingError("cuda_graphs", "a CUDA device", str(self.device), "leave CUDA graphs off on the CPU")
        self.precision, self.cuda_graphs = precision, bool(cuda_graphs)
        amp = (self.device.type, PRECISIONS[precision]) if PRECISIONS[precision] is not None else None
        self.target_encoder = networks.target_pose_encoder.to(self.device).eval()
        # channels_last inside each block: oneDNN's NHWC convs (and the Winograd layers) run
        # ~10% faster on CPU, even counting the conversions at the block boundaries; cuDNN's
        # fp16/bf16 tensor-core convs want NHWC too.
        channels_last = self.device.type == "cpu" or amp is not None
        self.runtime = ShaderRuntime(networks, channels_last=channels_last, amp=amp).to(self.device).eval()
        self.acceleration = "plain convolutions"
        if fast and self.device.type == "cpu" and amp is None:
            self.runtime, self.acceleration = accelerate(self.runtime)
        if amp is not None:
            self.acceleration = f"{precision} autocast convolutions, FP32 warps/weights/norms"
        self._graph = None  # (key, static target, static output, CUDAGraph, the state it reads)
        self._host: torch.Tensor | None = None
        log.info("FrameRenderer on %s: %s", self.device, self.acceleration)

    def render(self, state: SheetState, udp: UdpMap) -> RgbaFrame:
        return render_udp(self, state, udp, self.device, self._read_back)

    def close(self) -> None:
        """Release the captured CUDA graph (its memory pool), the pinned read-back buffer and the
        shader runtime; idempotent. The renderer is unusable afterwards."""
        if self._graph is not None:
            torch.cuda.current_stream(self.device).synchronize()  # no replay still running on what is freed
            self._graph[3].reset()
        self._graph = self._host = None
        self.runtime = self.target_encoder = None

    def _read_back(self, hwc: torch.Tensor) -> np.ndarray:
        if self.device.type != "cuda":
            return hwc.contiguous().numpy()
        if self._host is None or self._host.shape != hwc.shape:
            self._host = torch.empty(hwc.shape, dtype=torch.float32, pin_memory=True)
        self._host.copy_(hwc, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        return self._host.numpy().copy()  # the pinned buffer is reused by the next frame

    @torch.inference_mode()
    def render_tensor(self, state: SheetState, target: torch.Tensor, debug: dict | None = None) -> torch.Tensor:
        """``target`` = ``cat(xyz*a, a)`` ``[N,4,H,W]`` -> RGBA ``[N,4,H,W]``; N frames share the sheet.

        ``debug`` (a dict) receives ``target_features`` and ``block{p}_residual_flow``.
        """
        if self.runtime is None:
            raise SettingError("FrameRenderer", "an open renderer", "closed", "make a new one (or open a new backend)")
        if state.device != self.device:
            state = state.to(self.device)
        if tuple(target.shape[-2:]) != (state.size, state.size):
            raise SettingError(
                "target size", f"{state.size}x{state.size}", f"{tuple(target.shape[-2:])}", "match the sheet size"
            )
        target = target.to(self.device, torch.float32)
        if self.cuda_graphs and debug is None:
            return self._replay(state, target)
        return self._forward(state, target, debug)

    def _forward(self, state: SheetState, target: torch.Tensor, debug: dict | None = None) -> torch.Tensor:
        x = (target - INPUT_MEAN) / INPUT_STD
        if self.runtime.amp is None:
            tfeats = self.target_encoder.forward_features(x)
        else:
            with torch.autocast(self.device.type, dtype=self.runtime.amp[1]):
                tfeats = [t.float() for t in self.target_encoder.forward_features(x)]
        if debug is not None:
            debug["target_features"] = tfeats
        return self.runtime(state, tfeats, debug)

    def _replay(self, state: SheetState, target: torch.Tensor) -> torch.Tensor:
        """One CUDA graph per (sheet state, target shape): copy the target in, replay, clone out."""
        key = (id(state), tuple(target.shape))
        if self._graph is None or self._graph[0] != key:
            static_target = target.clone()
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):  # warm-up outside the capture (cuDNN picks its kernels)
                for _ in range(2):
                    self._forward(state, static_target)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._forward(state, static_target)
            self._graph = (key, static_target, static_out, graph, state)  # state: its buffers stay alive
        _, static_target, static_out, graph, _ = self._graph
        static_target.copy_(target)
        graph.replay()
        return static_out.clone()


class UDPDetector:
    """Picture -> UDP map with the parser's full U-Net (pose from an image).

    The picture is taken like a sheet view: RGB premultiplied by its alpha (pass
    RGBA and it is premultiplied here, the way the sheet loader does), normalised
    with mean 0.6 / std 0.297; the output is clamped to [0, 1].
    """

    MULTIPLE = 32  # the U-Net's skips need H/32 and W/32 to be whole

    def __init__(self, networks: CoNR, device="cpu"):
        self.device = _device(device)
        self.parser = networks.udpparsernet.to(self.device).eval()

    def close(self) -> None:
        self.parser = None

    def detect(self, image: np.ndarray, timestamp: float = 0.0) -> UdpMap:
        """``image`` uint8 ``[H,W,3]`` RGB or ``[H,W,4]`` straight RGBA -> UdpMap ``[H,W,4]``."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise InputError(
                "image",
                "uint8 [H,W,3] RGB or [H,W,4] RGBA",
                f"{image.dtype} {image.shape}",
                "convert the frame to RGB uint8",
            )
        h, w = image.shape[:2]
        if h % self.MULTIPLE or w % self.MULTIPLE:
            raise InputError(
                "image", f"height and width multiples of {self.MULTIPLE}", f"{h}x{w}", "resize or pad the frame"
            )
        rgb = image[..., :3]
        if image.shape[2] == 4:  # premultiply like the sheet loader: floor(rgb * a / 255)
            rgb = (rgb.astype(np.uint16) * image[..., 3:4] // 255).astype(np.uint8)
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        pred = self.detect_tensor(x)
        return UdpMap(pred[0].permute(1, 2, 0).contiguous().cpu().numpy(), timestamp=timestamp)

    @torch.inference_mode()
    def detect_tensor(self, rgb: torch.Tensor) -> torch.Tensor:
        """Premultiplied rgb ``[B,3,H,W]`` in [0,1] -> clamped prediction ``[B,4,H,W]``."""
        rgb = rgb.to(self.device, torch.float32)
        return self.parser((rgb - INPUT_MEAN) / INPUT_STD).clamp_(0.0, 1.0)
