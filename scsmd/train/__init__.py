"""Training stack (torch, scanpy): preprocessing, model, losses, trainer, partition, export.

Importing a submodule binds `scsmd.train` to this package, which would hide the API function
`scsmd.train(adata, n_clusters=...)`; so calling the package calls `scsmd.api.train`.
"""
import sys
import types


class _CallablePackage(types.ModuleType):
    """A package that forwards calls to scsmd.api.train."""

    def __call__(self, *args, **kwargs):
        from scsmd.api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
