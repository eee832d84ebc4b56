"""Save and rebuild the torch model inside a bundle: state dicts + config, never pickled modules."""
from __future__ import annotations

from pathlib import Path

import torch

from scsmd.bundle import WEIGHTS, Bundle
from scsmd.config import ModelConfig, from_dict, to_dict
from scsmd.train.model import ScSMD


def save_weights(model: ScSMD, folder: Path) -> None:
    """Write model.pt: the model config and its state dict."""
    torch.save({"model_config": to_dict(model.config), "state_dict": model.state_dict()}, folder / WEIGHTS)


def load_model_weights(bundle: Bundle) -> ScSMD:
    """Rebuild the network from a verified bundle's model.pt, in eval mode on the CPU."""
    checkpoint = torch.load(bundle.file(WEIGHTS), map_location="cpu", weights_only=True)
    values = {"likelihood": "nb", "dense_members": 1, **checkpoint["model_config"]}  # the defaults before each field
    state = checkpoint["state_dict"]
    if "dense_members" not in checkpoint["model_config"]:  # format 4: the one dense autoencoder was `dense`
        state = {"dense.0." + key[6:] if key.startswith("dense.") else key: value for key, value in state.items()}
    model = ScSMD(from_dict(ModelConfig, values))
    model.load_state_dict(state)
    return model.eval()
