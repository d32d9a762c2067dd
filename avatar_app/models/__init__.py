"""Torch modules only: the CoNR network (presets ``official`` and ``lite``), its
backbones, strict checkpoint loading and the synthetic-weight recipe."""

from avatar_app.models.backbones import BackboneConfig, ResNetUNet
from avatar_app.models.checkpoint import (
    CHECKPOINT_FILES,
    PRESET_FILE,
    load_conr_weights,
    load_state_dict_strict,
    load_weights_folder,
    read_state_dict,
    save_conr_weights,
    save_weights_folder,
    weights_fingerprint,
    weights_preset,
)
from avatar_app.models.conr import (
    INPUT_MEAN,
    INPUT_STD,
    NETWORK_NAMES,
    PRESETS,
    CoNR,
    CoNRConfig,
    LevelLayout,
    checkpoint_filter_fn,
    conr_lite,
    conr_official,
    create_conr,
)
from avatar_app.models.conr_config import NUM_LEVELS, lite_config, official_config
from avatar_app.models.fill import fill_networks, fill_state_dict, fill_tensor, state_dict_checksums

__all__ = [
    "BackboneConfig",
    "ResNetUNet",
    "CHECKPOINT_FILES",
    "load_conr_weights",
    "load_state_dict_strict",
    "read_state_dict",
    "save_conr_weights",
    "weights_fingerprint",
    "PRESET_FILE",
    "load_weights_folder",
    "save_weights_folder",
    "weights_preset",
    "NUM_LEVELS",
    "lite_config",
    "official_config",
    "INPUT_MEAN",
    "INPUT_STD",
    "NETWORK_NAMES",
    "PRESETS",
    "CoNR",
    "CoNRConfig",
    "LevelLayout",
    "checkpoint_filter_fn",
    "conr_lite",
    "conr_official",
    "create_conr",
    "fill_networks",
    "fill_state_dict",
    "fill_tensor",
    "state_dict_checksums",
]
