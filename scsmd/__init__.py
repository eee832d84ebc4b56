"""scsmd: deployable single-cell clustering with the scSMD convolutional autoencoder."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["preprocess", "train", "export", "embed", "evaluate", "load_model", "__version__"]


def __getattr__(name: str):
    """Re-export the api lazily, so `import scsmd` stays light."""
    if name in __all__:
        from scsmd import api

        return getattr(api, name)
    raise AttributeError(f"module 'scsmd' has no attribute {name!r}")
