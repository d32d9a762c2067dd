"""CoNR sizes: the config dataclass, the per-level channel layout, the presets.

The ``official`` preset is the published network (its checkpoints load strictly);
``lite`` is a placeholder for a smaller network to train for live CPU use. Every
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
    shader_width: int = 224
    residual_groups: tuple[int, ...] = (1, 1, 1, 1, 1, 2)
    convs_per_group: int = 6
    flow_groups: int = 16

    def __post_init__(self):
        if len(self.residual_groups) != NUM_LEVELS:
            raise ValueError(f"residual_groups needs {NUM_LEVELS} entries, got {self.residual_groups}")
        for c in self.parser.feature_channels:
            if c % self.flow_groups:
                raise ValueError(f"message width {c} is not divisible by flow_groups={self.flow_groups}")

    def level(self, p: int) -> "LevelLayout":
        return LevelLayout.of(self, p)

    @property
    def levels(self) -> tuple["LevelLayout", ...]:
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
    def of(cfg: CoNRConfig, p: int) -> "LevelLayout":
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
            [("A", 2), ("T", self.target), ("W", 4), ("G", self.feature), ("Abar", 2), ("Wbar", 4),
             ("Mbar", self.msg_in), ("L", self.local_in)]
        )

    @property
    def outputs(self) -> dict[str, slice]:
        return self._slices(
            [("delta", 2), ("msg", self.msg), ("msg_flow", self.flow), ("local", self.local),
             ("local_flow", self.flow if self.local else 0), ("masks", 2 + self.msg)]
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
    # Provisional sizing (tuned in a later issue): ResNet-18 sheet parser, narrower shader,
    # one residual group per level.
    cfg = CoNRConfig(
        name="lite",
        parser=BackboneConfig(in_channels=3, block="basic", layers=(2, 2, 2, 2), stem_pool="conv", out_channels=4),
        shader_width=96,
        residual_groups=(1, 1, 1, 1, 1, 1),
    )
    return replace(cfg, **overrides)


PRESET_CONFIGS = {"official": official_config, "lite": lite_config}
