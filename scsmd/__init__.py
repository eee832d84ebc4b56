"""scsmd: deployable single-cell clustering with the scSMD convolutional autoencoder."""
from __future__ import annotations

__version__ = "0.1.0"

_API = ("preprocess", "train", "export", "embed", "evaluate", "load_model")
_PLOT = ("plot_training", "plot_umap", "plot_contingency")
__all__ = [*_API, *_PLOT, "__version__"]


def __getattr__(name: str):
    """Re-export the api and the figures lazily, so `import scsmd` stays light."""
    if name in _API:
        from scsmd import api

        return getattr(api, name)
    if name in _PLOT:
        from scsmd import plot

        return getattr(plot, name)
    raise AttributeError(f"module 'scsmd' has no attribute {name!r}")
