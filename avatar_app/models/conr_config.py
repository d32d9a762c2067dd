"""CoNR sizes: the config dataclass, the per-level channel layout, the presets.

The ``official`` preset is the published network (its checkpoints load strictly);
``lite`` is the small network we train ourselves for live CPU use. Every
width is derived from the two backbone configs, the shader width and the group
counts, so a preset is just numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from avatar_app.models.backbones import BackboneConfig

__all__ = ["NUM_LEVELS", "CoNRConfig", "LevelLayout", "official_config", "lite_config", "PRESET_CONFIGS"]

NUM_LEVELS = 6


@dataclass(frozen=True)
class CoNRConfig:
    """Every size of the network; presets are instances of this."""

    name: str = "official"
    parser: BackboneConfig = field(default_factory=lambda: BackboneConfig(in_channels=3, out_channels=4))
    target: BackboneConfig = field(
        default_factory=lambda: BackboneConfig(
            in_channels=4, block="basic", layers=(2, 2, 2, 2), stem_pool="max", out_channels=1
        )
    )
    shader_width: int | tuple[int, ...] = 224  # one width, or one per level (coarse to fine)
    residual_groups: tuple[int, ...] = (1, 1, 1, 1, 1, 2)
    convs_per_group: int = 6
    flow_groups: int = 16

    def __post_init__(self):
        if len(self.residual_groups) != NUM_LEVELS:
            raise ValueError(f"residual_groups needs {NUM_LEVELS} entries, got {self.residual_groups}")
        if not isinstance(self.shader_width, int) and len(self.shader_width) != NUM_LEVELS:
            raise ValueError(f"shader_width needs one int or {NUM_LEVELS} entries, got {self.shader_width}")
        for c in self.parser.feature_channels:
            if c % self.flow_groups:
                raise ValueError(f"message width {c} is not divisible by flow_groups={self.flow_groups}")

    def width(self, p: int) -> int:
        """Shader width of level ``p``."""
        return self.shader_width if isinstance(self.shader_width, int) else self.shader_width[p]

    def level(self, p: int) -> LevelLayout:
        return LevelLayout.of(self, p)

    @property
    def levels(self) -> tuple[LevelLayout, ...]:
        return tuple(LevelLayout.of(self, p) for p in range(NUM_LEVELS))


@dataclass(frozen=True)
class LevelLayout:
    """Channel slices of shader block ``p``'s input and output (README §5 table).

    Input:  ``[A (2), T, W (4), G, Abar (2), Wbar (4), Mbar, L]``
    Output: ``[delta (2), msg, msg_flow, local, local_flow, masks (2 + msg)]``
    """

    p: int
    target: int
    feature: int
    msg_in: int
    local_in: int
    msg: int
    local: int
    flow: int

    @staticmethod
    def of(cfg: CoNRConfig, p: int) -> LevelLayout:
        feats = cfg.parser.feature_channels
        tfeats = cfg.target.feature_channels
        msg = feats[min(p, 4)]
        local = feats[p] if p < 5 else 0
        prev = LevelLayout.of(cfg, p - 1) if p > 0 else None
        return LevelLayout(
            p=p,
            target=tfeats[p] if p < 5 else 0,
            feature=feats[p] if p < 5 else 0,
            msg_in=prev.msg if prev else 0,
            local_in=prev.local if prev else 0,
            msg=msg,
            local=local,
            flow=2 * cfg.flow_groups,
        )

    def _slices(self, sizes) -> dict[str, slice]:
        out, at = {}, 0
        for name, n in sizes:
            out[name] = slice(at, at + n)
            at += n
        return out

    @property
    def inputs(self) -> dict[str, slice]:
        return self._slices(
            [
                ("A", 2),
                ("T", self.target),
                ("W", 4),
                ("G", self.feature),
                ("Abar", 2),
                ("Wbar", 4),
                ("Mbar", self.msg_in),
                ("L", self.local_in),
            ]
        )

    @property
    def outputs(self) -> dict[str, slice]:
        return self._slices(
            [
                ("delta", 2),
                ("msg", self.msg),
                ("msg_flow", self.flow),
                ("local", self.local),
                ("local_flow", self.flow if self.local else 0),
                ("masks", 2 + self.msg),
            ]
        )

    @property
    def in_channels(self) -> int:
        return self.inputs["L"].stop

    @property
    def out_channels(self) -> int:
        return self.outputs["masks"].stop


def official_config(**overrides) -> CoNRConfig:
    return replace(CoNRConfig(name="official"), **overrides)


def lite_config(**overrides) -> CoNRConfig:
    """The live-on-CPU network (issue #7): the same data flow, about 2M parameters.

    One block per ResNet stage (widths 16-128 for the sheet parser, 8-64 for the pose
    encoder, stems of 8), a shader that narrows from 48 channels at the coarsest level
    to 12 at full resolution with two convs per level, and two flow groups (message
    widths 128..8). Timings: README "Benchmarks".
    """
    cfg = CoNRConfig(
        name="lite",
        parser=BackboneConfig(
            in_channels=3,
            block="basic",
            layers=(1, 1, 1, 1),
            widths=(16, 32, 64, 128),
            stem_width=8,
            stem_pool="conv",
            decoder_filters=(64, 32, 24, 16, 16),
            out_channels=4,
        ),
        target=BackboneConfig(
            in_channels=4,
            block="basic",
            layers=(1, 1, 1, 1),
            widths=(8, 16, 32, 64),
            stem_width=8,
            stem_pool="max",
            decoder_filters=(64, 32, 16, 8, 8),
            out_channels=1,
        ),
        shader_width=(48, 48, 32, 24, 16, 12),
        residual_groups=(1, 1, 1, 1, 1, 1),
        convs_per_group=2,
        flow_groups=2,
    )
    return replace(cfg, **overrides)


PRESET_CONFIGS = {"official": official_config, "lite": lite_config}
