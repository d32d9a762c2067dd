"""The per-frame CoNR shader, split and batched for inference.

Same numbers as :meth:`avatar_app.models.conr.CoNR.forward` (README §5), computed
with less work:

* Views are folded into the batch (``B = N*M``, frame-major); blocks have no
  normalisation and every resample is per sample, so this is exact.
* Each block's first conv is linear in its input, so it is split by input-channel
  slices (zero padding keeps the split exact): the per-view part
  ``[W, G, A, L]`` runs on ``B`` samples, the part every view shares
  ``[T, Abar, Wbar, Mbar]`` runs once per frame and is broadcast-added. At level 0
  the per-view part depends on the sheet only and comes precomputed in the
  :class:`~avatar_app.infer.sheet_state.SheetState`.
* Between blocks, everything is resized at low resolution into tensors laid out
  for the grouped warps (messages+locals, their flows, delta+masks), so the groups
  fold into the batch as free views and one ``grid_sample`` warps all of them;
  the reference image and the next features are warped together from one sheet
  tensor; base grids are cached per size; the cross-view softmax weighting is
  fused into ``sum_v(sigma e^sigma x) / sum_v e^sigma`` over only the channels
  that are used (mask 0 for flow/image, masks 2.. for messages).
* On CPU each block runs in channels_last (oneDNN's NHWC kernels are faster); the
  tail stays NCHW, where ``grid_sample`` and the grouped views are cheapest, and the
  RGBA decoder runs channels_last again (its 8-channel convs at full size: 2.6 vs
  4.8-8.6 ms NCHW for ``lite`` at 256², conversion included); its NHWC output is the
  ``[H,W,4]`` frame without a copy.
* Mixed precision (``amp=(device_type, dtype)``): each block's convolutions run under
  ``torch.autocast``; everything between blocks - resizes, warps, the cross-view
  softmax weighting and the RGBA decoder - stays an FP32 island, because flows are in
  pixels (fp16 has a 0.125 px step at 256) and the weights are exponentials.

The leaf layers are the network's own modules in new containers, so
:func:`accelerate` can swap them (Winograd, see ``winograd.py``) without touching
the loaded networks.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from avatar_app.infer.winograd import accelerate_shader
from avatar_app.models.conr import CoNR, DecoderBlock, LevelLayout, base_grid

__all__ = ["ShaderRuntime", "level0_sheet_conv", "accelerate", "convert_layout", "VIEW_PARTS", "SHARED_PARTS"]

VIEW_PARTS = ("W", "G", "A", "L")  # per-view input slices, in our buffer order
SHARED_PARTS = ("T", "Abar", "Wbar", "Mbar")  # identical for every view of a frame


def _conv_like(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Conv2d:
    """A conv with ``conv``'s geometry and the given (already sliced) weight; no random init."""
    out = nn.Conv2d(
        weight.shape[1],
        weight.shape[0],
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=bias is not None,
        device="meta",
    )
    out.weight = nn.Parameter(weight.detach(), requires_grad=False)
    out.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)
    return out


def _slice_weight(conv: nn.Conv2d, lv: LevelLayout, parts) -> torch.Tensor | None:
    s = lv.inputs
    pieces = [conv.weight[:, s[name]] for name in parts if s[name].stop > s[name].start]
    return torch.cat(pieces, dim=1) if pieces else None


NARROW = 64  # channels below which NHWC -> NCHW uses PyTorch's own copy (see convert_layout)


def _is_channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and x.stride(1) == 1 and x.shape[1] > 1


def convert_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """NCHW <-> NHWC copy done as one 2-d transpose per sample.

    PyTorch's generic strided copy runs a 4-d transpose at ~4 ns/element here; a 2-d
    ``[HW, C]`` transpose takes its cache-blocked path (~40% faster on the 43M-element
    level-5 output). Back to NCHW with fewer than :data:`NARROW` channels the generic
    copy wins (``lite``: 6% of a 4-view frame, measured side by side).
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if x.is_contiguous(memory_format=fmt):
        return x
    if x.device.type != "cpu" or not x.is_contiguous(
        memory_format=torch.contiguous_format if channels_last else torch.channels_last
    ):
        return x.contiguous(memory_format=fmt)
    if not channels_last and x.shape[1] < NARROW:
        return x.contiguous()
    b, c, h, w = x.shape
    out = torch.empty_like(x, memory_format=fmt)
    for i in range(b):
        if channels_last:  # [C, HW] -> [HW, C]
            out[i].permute(1, 2, 0).view(h * w, c).copy_(x[i].view(c, h * w).t())
        else:  # [HW, C] -> [C, HW]
            out[i].view(c, h * w).copy_(x[i].permute(1, 2, 0).reshape(h * w, c).t())
    return out


def level0_sheet_conv(block: DecoderBlock, lv: LevelLayout) -> nn.Conv2d:
    """Level 0's first conv restricted to the sheet channels, input ``[W0, F0]``, bias included.

    At level 0 ``Wbar`` is the view's own ``W`` (pitfall 10), so their weight slices
    are summed; ``A`` and ``Abar`` are zero and drop out.
    """
    conv, s = block.conv0[0], lv.inputs
    weight = torch.cat([conv.weight[:, s["W"]] + conv.weight[:, s["Wbar"]], conv.weight[:, s["G"]]], dim=1)
    return _conv_like(conv, weight, conv.bias)


class LevelRuntime(nn.Module):
    """One shader block with its first conv split into per-view and shared parts."""

    def __init__(self, block: DecoderBlock, lv: LevelLayout, channels_last: bool = False):
        super().__init__()
        self.layout = lv
        self.channels_last = channels_last
        conv = block.conv0[0]
        if lv.p == 0:
            self.first_view = None  # precomputed per sheet
            self.first_shared = _conv_like(conv, _slice_weight(conv, lv, ("T",)), None)
        else:
            self.first_view = _conv_like(conv, _slice_weight(conv, lv, VIEW_PARTS), None)
            self.first_shared = _conv_like(conv, _slice_weight(conv, lv, SHARED_PARTS), conv.bias)
        self.act0, self.conv1, self.act1 = block.conv0[1], block.conv0[2], block.conv0[3]
        self.convblocks = nn.ModuleList(nn.Sequential(*group) for group in block.convblocks)
        self.conv_last = nn.Sequential(*block.conv_last)

    def forward(self, first: torch.Tensor) -> torch.Tensor:
        """Rest of the block after the first conv's pre-activation ``first`` ``[B, width, s/2, s/2]``."""
        if self.channels_last:
            first = convert_layout(first, channels_last=True)
        x = self.act1(self.conv1(self.act0(first)))
        for group in self.convblocks:
            x = group(x).add_(x)
        return self.conv_last(x)  # channels_last on CPU; the tail converts what it needs

    def first_conv(self, per_view: torch.Tensor, shared: torch.Tensor, n: int, m: int) -> torch.Tensor:
        y = self.first_view(per_view)
        y.view(n, m, *y.shape[1:]).add_(self.first_shared(shared).unsqueeze(1))
        return y


class ShaderRuntime(nn.Module):
    """Shader + RGBA decoder of one :class:`CoNR`, arranged for split, batched inference."""

    def __init__(self, model: CoNR, channels_last: bool = False, amp: tuple[str, torch.dtype] | None = None):
        super().__init__()
        self.cfg = model.cfg
        self.amp = amp
        self.levels = nn.ModuleList(
            LevelRuntime(block, lv, channels_last) for block, lv in zip(model.shader.decoder_blocks, model.cfg.levels)
        )
        self.rgba_decoder = copy.deepcopy(model.rgbadecodernet)
        self.channels_last = channels_last
        if channels_last:
            self.rgba_decoder.to(memory_format=torch.channels_last)
        self._grids: dict = {}

    # ---- helpers ---------------------------------------------------------------------

    def _base(self, h: int, w: int, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (h, w, ref.device, ref.dtype)
        if key not in self._grids:
            scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=ref.device, dtype=ref.dtype)
            self._grids[key] = (base_grid(h, w, ref.device, ref.dtype), scale)
        return self._grids[key]

    @staticmethod
    def _sample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)

    @staticmethod
    def _cat(pieces: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """Concatenate channel slices of ``like`` in ``like``'s memory layout."""
        fmt = torch.channels_last if _is_channels_last(like) else torch.contiguous_format
        b, _, h, w = like.shape
        out = torch.empty(
            (b, sum(t.shape[1] for t in pieces), h, w), dtype=like.dtype, device=like.device, memory_format=fmt
        )
        return torch.cat(pieces, dim=1, out=out)

    @staticmethod
    def _up(x: torch.Tensor, size) -> torch.Tensor:
        """Resize to NCHW. From NHWC input PyTorch runs its fast channels-last kernel; the
        transpose back is our blocked one (PyTorch's NCHW path does both transposes itself,
        with a slower generic copy)."""
        return convert_layout(F.interpolate(x, size=size, mode="bilinear", align_corners=False), channels_last=False)

    def _grouped_warp(self, x: torch.Tensor, flow: torch.Tensor, base, scale) -> torch.Tensor:
        """Warp ``x`` [B,C,h,w] by ``flow`` [B,2G,h,w] (pixels, times ``scale``) in G channel groups.

        Groups go into the batch: one ``grid_sample`` over ``[B*G, C/G, h, w]``. The grid is
        built from a 5-d view of ``flow``, so a channel slice of a bigger tensor needs no copy.
        """
        b, c, h, w = x.shape
        g = flow.shape[1] // 2
        grid = torch.addcmul(base, flow.view(b, g, 2, h, w).permute(0, 1, 3, 4, 2), scale)
        return self._sample(x.reshape(b * g, c // g, h, w), grid.view(b * g, h, w, 2)).view(b, c, h, w)

    def _block(self, level: LevelRuntime, first_conv, *args) -> torch.Tensor:
        """``level(first_conv(*args))``, under autocast when mixed precision is on; FP32 out."""
        if self.amp is None:
            return level(first_conv(*args))
        with torch.autocast(self.amp[0], dtype=self.amp[1]):
            return level(first_conv(*args)).float()

    # ---- the frame -------------------------------------------------------------------

    def forward(self, state, tfeats: list[torch.Tensor], debug: dict | None = None) -> torch.Tensor:
        """Premultiplied RGBA ``[N,4,H,W]`` for target features ``tfeats`` (``T[0..4]``, batch N)."""
        n, m = tfeats[0].shape[0], state.num_views
        b = n * m
        sizes = state.level_sizes
        sources = state.warp_sources if n == 1 else [s.repeat(n, 1, 1, 1) for s in state.warp_sources]
        last = len(self.levels) - 1

        lv0 = self.levels[0]

        def level0_first(t0):
            first = lv0.first_shared(t0).unsqueeze(1) + state.level0_conv.unsqueeze(0)
            return first.reshape(b, *first.shape[2:])

        out = self._block(lv0, level0_first, tfeats[0])
        A = per_view = shared = None  # per_view / shared: the next level's first-conv inputs
        for p, level in enumerate(self.levels):
            lv = level.layout
            if p > 0:
                out = self._block(level, level.first_conv, per_view, shared, n, m)
            if debug is not None:
                debug[f"block{p}_residual_flow"] = out[:, 0:2].reshape(n, m, 2, *out.shape[2:]).transpose(0, 1).clone()
            o = lv.outputs
            mask0 = slice(o["masks"].start, o["masks"].start + 1)
            masks = slice(o["masks"].start + 2, o["masks"].stop)  # mask 1 weights nothing that is used
            if p == last:  # full size already (k = 1): warp the messages, weight them, decode
                out = convert_layout(out, channels_last=False)
                out[:, masks].sigmoid_()
                base, scale = self._base(*out.shape[-2:], out)
                msgs = self._grouped_warp(out[:, o["msg"]], out[:, o["msg_flow"]], base, scale)
                message = self._aggregate_messages(out[:, masks], msgs, n, m)
                return self.rgba_decoder(convert_layout(message, True) if self.channels_last else message)

            size = sizes[p + 1]
            k = size[1] / out.shape[-1]  # flow scale from widths only (pitfall 3); 2 at every level < 5
            out[:, mask0].sigmoid_()  # sigmoid before the resize, like the reference
            out[:, masks].sigmoid_()
            delta = out[:, o["delta"]]
            if A is not None:
                delta.add_(A)
            # Gathered at low resolution into tensors whose channel groups fold into the batch
            # as free views after the resize, so the grouped warps need no full-size copies.
            lo_x = self._cat([out[:, o["msg"]], out[:, o["local"]]] if lv.local else [out[:, o["msg"]]], out)
            lo_f = self._cat(
                [out[:, o["msg_flow"]], out[:, o["local_flow"]]] if lv.local else [out[:, o["msg_flow"]]], out
            )
            lo_s = self._cat([delta, out[:, mask0], out[:, masks]], out)
            xs, flows, sig = (self._up(t, size) for t in (lo_x, lo_f, lo_s))
            base, scale = self._base(*size, out)
            warped = self._grouped_warp(xs, flows, base, scale * k)
            msgs, L = warped[:, : lv.msg], (warped[:, lv.msg :] if lv.local else None)
            A = sig[:, 0:2].mul_(k)
            grid = torch.addcmul(base, A.permute(0, 2, 3, 1), scale)
            WG = self._sample(sources[p], grid)  # [W (4), G (next features)] in one resample
            Abar, Wbar = self._aggregate_flow_image(sig[:, 2:3], A, WG[:, :4], n, m)
            Mbar = self._aggregate_messages(sig[:, 3:], msgs, n, m)
            per_view = torch.cat([t for t in (WG, A, L) if t is not None], dim=1)
            T = tfeats[p + 1] if p + 1 < len(tfeats) else None
            shared = torch.cat([t for t in (T, Abar, Wbar, Mbar) if t is not None], dim=1)
        raise AssertionError("unreachable")

    # Views meet only here: weights sigma * softmax_v(sigma), not normalised (pitfall 9), i.e.
    # sum_v x_v sigma_v e^sigma_v / sum_v e^sigma_v. sigma is a sigmoid output in (0, 1), so exp
    # needs no max-subtraction.

    @staticmethod
    def _weights(sig: torch.Tensor, n: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        sig = sig.view(n, m, *sig.shape[1:])
        e = torch.exp(sig)
        inv = e.sum(1).reciprocal_()
        return e.mul_(sig), inv

    @classmethod
    def _aggregate_flow_image(cls, sig0, A, W, n, m):
        w0, inv = cls._weights(sig0, n, m)
        Abar = (w0 * A.view(n, m, *A.shape[1:])).sum(1).mul_(inv)
        Wbar = (w0 * W.view(n, m, *W.shape[1:])).sum(1).mul_(inv)
        return Abar, Wbar

    @classmethod
    def _aggregate_messages(cls, sig, msgs, n, m):
        w, inv = cls._weights(sig, n, m)
        return w.mul_(msgs.view(n, m, *msgs.shape[1:])).sum(1).mul_(inv)


def accelerate(runtime: ShaderRuntime) -> tuple[ShaderRuntime, str]:
    """Swap the runtime's eligible convs for their Winograd twins (``winograd.py``), in place.

    The runtime holds all six shader levels plus a private copy of the RGBA decoder, so
    the loaded networks are never modified. Returns the runtime and a short note of what
    was used (for logs and ``bench``).
    """
    return accelerate_shader(runtime), "winograd.accelerate_shader"
