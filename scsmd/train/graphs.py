"""A training step recorded once as a CUDA graph and replayed for every batch: on a GPU the small network's step is
~1000 kernel launches from Python (an H200's image pretraining, bench/README.md, session 27), which one replay
launches at once. PyTorch's whole-network capture, as its CUDA semantics notes describe it."""
from __future__ import annotations

import warnings
from collections.abc import Callable

import torch


class GraphedStep:
    """Calls `step(batch) -> loss` (batch: the cells' indices) as a captured graph for full batches. The first
    `warmup` full batches run eagerly on a side stream (lazy state such as Adam's moments is made there, outside the
    capture); batches of another size (an epoch's last) always run eagerly. The step's optimizer must be capturable,
    with a tensor rate."""

    def __init__(self, step: Callable[[torch.Tensor], torch.Tensor], batch_size: int, warmup: int = 3):
        self.step, self.batch_size, self.warmup = step, batch_size, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_batch: torch.Tensor | None = None
        self.static_loss: torch.Tensor | None = None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """The step's loss on these cells (a copy: the next replay overwrites the graph's own)."""
        if len(batch) != self.batch_size:
            return self.step(batch)
        if self.graph is None and self.warmup > 0:
            self.warmup -= 1
            return self._on_side_stream(batch)
        if self.graph is None:
            self._capture(batch)
        self.static_batch.copy_(batch)
        self.graph.replay()
        return self.static_loss.clone()

    def _on_side_stream(self, batch: torch.Tensor) -> torch.Tensor:
        """One eager step on a side stream, where the capture will run."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), warnings.catch_warnings():
            # the first eager step of a capturable optimizer warns that it runs uncaptured: here by design
            warnings.filterwarnings("ignore", message="This instance was constructed with capturable=True")
            loss = self.step(batch)
        torch.cuda.current_stream().wait_stream(side)
        return loss

    def _capture(self, batch: torch.Tensor) -> None:
        """Record the step on a static copy of the indices; recording runs nothing, the caller replays it."""
        self.static_batch = batch.clone()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_loss = self.step(self.static_batch)
