"""The training stages: pretrain the image autoencoder -> the dense branch -> DEC (the default preset), or the paper's
fuzzy clustering and Cellnet modules (the reference preset); no labels anywhere."""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from scsmd.config import LrSchedule, ModelConfig, NeighborMetric, TrainConfig
from scsmd.errors import ScsmdError
from scsmd.infer.timing import StageTimer
from scsmd.panel import PanelScaling
from scsmd.train.losses import (fuzzy_loss, fuzzy_memberships, kl_to_target, neighbor_contrast, pair_targets,
                                 pairwise_loss, sharpened_target, student_t_memberships)
from scsmd.train.graphs import GraphedStep
from scsmd.train.model import ScSMD
from scsmd.train.n_clusters import estimate_n_clusters, estimate_source
from scsmd.train.partition import final_clusters, kmeans_centroids

log = logging.getLogger(__name__)

EpochCallback = Callable[[dict], None]
STAGE_RATES = {"pretrain": "pretrain_lr", "dense": "dense_lr", "dec": "dec_lr", "fuzzy": "fuzzy_lr",
               "cellnet": "head_lr, cellnet_ae_lr"}  # TrainConfig fields


@dataclass
class TrainData:
    """Tensors of one training set: encoder inputs (n, n_inputs), panel counts (n, g), size factors (n,), and the
    per-gene scaling that made the inputs (None: unscaled log values)."""

    inputs: torch.Tensor
    counts: torch.Tensor
    size_factors: torch.Tensor
    scaling: PanelScaling | None = None

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.inputs.shape[0]

    @property
    def n_genes(self) -> int:
        """Real (unpadded) panel genes."""
        return self.counts.shape[1]

    def to(self, device: torch.device) -> TrainData:
        """The same tensors on `device`: one copy up front instead of one per batch."""
        return replace(self, inputs=self.inputs.to(device), counts=self.counts.to(device),
                       size_factors=self.size_factors.to(device))


@dataclass
class TrainResult:
    """What training produced: the model, the final latent, clusters and centroids, and per-epoch history."""

    model: ScSMD
    latent: np.ndarray  # (n_cells, latent_dim) float32
    labels: np.ndarray  # (n_cells,) int, nearest final centroid
    centroids: np.ndarray  # (n_clusters, latent_dim) float64
    # the last stage's clusters (Cellnet's argmax, or the fuzzy memberships' without Cellnet) and centroids, which the
    # final partition starts from: kept so that other final partitions can be measured on a run (bench/partitions.py)
    head_labels: np.ndarray  # (n_cells,) int
    head_centroids: np.ndarray  # (n_clusters, latent_dim) float64
    final_neighbors: int  # the neighbours the final smoothing averaged over (0: it clustered the raw latent)
    device: str
    history: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds of the steps between the epochs

    @property
    def head_agreement(self) -> float:
        """Fraction of cells whose final cluster is their cluster in the last stage."""
        return float((self.labels == self.head_labels).mean())


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is an error."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ScsmdError("--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


@contextmanager
def exact_kernels(device: torch.device) -> Iterator[None]:
    """Deterministic fp32 kernels while training on CUDA, the caller's settings restored afterwards (but
    CUBLAS_WORKSPACE_CONFIG, which cuBLAS reads once, when it starts, stays set where it was unset): with the defaults
    (cuDNN's fastest algorithms, TF32 convolutions) two runs of one seed differ, and the training latent drifts
    ~1e-4 from what the exported encoder computes for the same cells."""
    if device.type != "cuda":
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS' repeatable workspace
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    torch.use_deterministic_algorithms(True)
    cudnn.benchmark = cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved[2:]


def shuffled_batches(data: TrainData, batch_size: int, generator: torch.Generator, min_cells: int = 0
                     ) -> Iterator[torch.Tensor]:
    """Shuffled index batches on the data's device: one pass over the cells, and more passes' batches until at least
    `min_cells` cells were drawn; a trailing batch of one cell is dropped (BatchNorm needs two)."""
    drawn, target = 0, max(min_cells, data.n_cells)
    while drawn < target:
        order = torch.randperm(data.n_cells, generator=generator).to(data.inputs.device)
        for start in range(0, data.n_cells, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) >= 2:
                yield batch
            drawn += len(batch)
            if drawn >= target:
                return


def stage_batches(data: TrainData, batch_size: int, config: TrainConfig, generator: torch.Generator
                  ) -> Iterator[torch.Tensor]:
    """One epoch of a stage's shuffled batches of `batch_size`, drawing at least the config's floor for that size."""
    return shuffled_batches(data, batch_size, generator, config.epoch_floor(batch_size))


@torch.no_grad()
def encode(model: ScSMD, inputs: torch.Tensor, batch_size: int = 1024, encoder: torch.nn.Module | None = None
           ) -> torch.Tensor:
    """Latent the clusters live in (or `encoder`'s) of every cell in eval mode, (n, dim)."""
    was_training = model.training
    model.eval()
    encoder = model.embedder if encoder is None else encoder  # a module's truth is its length, not presence
    device = next(model.parameters()).device
    latent = torch.cat([encoder(inputs[i:i + batch_size].to(device)) for i in range(0, len(inputs), batch_size)])
    model.train(was_training)
    return latent


def _weighted_centroids(latent: torch.Tensor, centroids: torch.Tensor, fuzzifier: float) -> torch.Tensor:
    """Centroids re-estimated as membership**m-weighted means of the latent."""
    weights = fuzzy_memberships(latent, centroids, fuzzifier) ** fuzzifier  # (n, k)
    return (weights.T @ latent) / weights.sum(dim=0)[:, None].clamp_min(1e-12)


def _autoencode(model: ScSMD, x: torch.Tensor, bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent and reconstruction in float32, the convolutions and linear layers run in bfloat16 if `bf16` (autocast;
    its cache of cast weights off, as a captured CUDA graph needs)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
        latent = model.encoder(x)
        recon = model.decoder(latent)
    return latent.float(), recon.float()


def _reconstruction_errors(model: ScSMD, x: torch.Tensor, counts: torch.Tensor, size_factors: torch.Tensor,
                           bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latent, per-cell MSE of the image's genes, and per-cell mean NB (or ZINB) NLL of their raw counts."""
    latent, recon = _autoencode(model, x, bf16)
    counts = counts[:, :recon.shape[1]]  # the image's genes; those past it are the dense branch's
    nb_error = model.nb_head.nll(recon, counts, size_factors)  # before the MSE: autograd then sums recon's gradients
    # in the order it always has, so NB results stay bit-identical
    n_genes = counts.shape[1]
    recon_error = (recon[:, :n_genes] - x[:, :n_genes]).pow(2).mean(dim=1)
    return latent, recon_error, nb_error


class _Stage:
    """Times one stage's epochs and reports them to the history and the callback."""

    def __init__(self, name: str, n_epochs: int, history: list[dict], on_epoch: EpochCallback | None):
        self.name, self.n_epochs = name, n_epochs
        self.history, self.on_epoch = history, on_epoch

    def add(self, batch_loss: torch.Tensor, batch_cells: float) -> None:
        """Count one batch's mean loss towards the epoch's, on the device: no GPU sync per batch."""
        self._total = self._total + batch_loss.detach() * batch_cells
        self._cells += batch_cells

    def epochs(self) -> Iterator[int]:
        """Yield epoch indices; the caller add()s each batch's loss inside each. Epoch 0 announces the stage."""
        if self.on_epoch is not None and self.n_epochs > 0:
            self.on_epoch({"stage": self.name, "epoch": 0, "n_epochs": self.n_epochs})
        for epoch in range(self.n_epochs):
            self._total: torch.Tensor | float = 0.0
            self._cells = 0.0
            start = time.perf_counter()
            yield epoch
            self.loss = float(self._total) / self._cells
            seconds = time.perf_counter() - start
            if not np.isfinite(self.loss):  # a NaN latent would only surface later as a KMeans traceback
                raise ScsmdError(f"training diverged: the {self.name} loss is {self.loss} at epoch {epoch + 1}; "
                                 f"lower that stage's learning rate ({STAGE_RATES[self.name]} in TrainConfig)")
            record = {"stage": self.name, "epoch": epoch + 1, "n_epochs": self.n_epochs, "loss": self.loss,
                      "seconds": seconds, "cells_per_s": self._cells / max(seconds, 1e-9)}
            self.history.append(record)
            log.debug("%s epoch %d/%d loss %.5f", self.name, epoch + 1, self.n_epochs, self.loss)
            if self.on_epoch is not None:
                self.on_epoch(record)


def rate_schedule(optimizer: torch.optim.Optimizer, kind: LrSchedule, n_epochs: int
                  ) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A cosine decay of the rate to zero over `n_epochs` (stepped once an epoch), or None for a constant rate."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(n_epochs, 1)) if kind == "cosine" else None


def adam(params: Iterable, device: torch.device, **options) -> torch.optim.Adam:
    """Adam, fused into a few kernels a step on CUDA, where training is launch-bound (an H200's pretraining epoch
    0.81 -> 0.61 s); the CPU gains nothing from it and keeps its results (bench/README.md, session 26)."""
    return torch.optim.Adam(params, fused=device.type == "cuda", **options)


def pretrain(model: ScSMD, data: TrainData, config: TrainConfig, generator: torch.Generator, stage: _Stage) -> None:
    """Stage 1: the autoencoder learns to reconstruct the panel (MSE, plus NB on raw counts if weighted), Adam; on CUDA
    with `config.cuda_graphs`, each full batch's step replays one captured graph."""
    params = [*model.encoder.parameters(), *model.decoder.parameters()]
    if config.pretrain_nb_weight > 0:
        params += list(model.nb_head.parameters())
    graphed = config.cuda_graphs and data.inputs.device.type == "cuda"
    # a captured step reads its rate from device memory, where the schedule writes it
    lr = torch.tensor(config.pretrain_lr, device=data.inputs.device) if graphed else config.pretrain_lr
    optimizer = adam(params, data.inputs.device, lr=lr, capturable=graphed)
    schedule = rate_schedule(optimizer, config.pretrain_schedule, config.pretrain_epochs)

    def step(batch: torch.Tensor) -> torch.Tensor:
        """One Adam step on the batch's cells; their mean loss."""
        x = data.inputs[batch]
        if config.pretrain_nb_weight > 0:
            _, recon_error, nb_error = _reconstruction_errors(model, x, data.counts[batch], data.size_factors[batch],
                                                              config.pretrain_bf16)
            loss = (recon_error + config.pretrain_nb_weight * nb_error).mean()
        else:
            _, recon = _autoencode(model, x, config.pretrain_bf16)
            n_genes = min(data.n_genes, recon.shape[1])
            loss = (recon[:, :n_genes] - x[:, :n_genes]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    run = GraphedStep(step, config.batch_size) if graphed else step
    for _ in stage.epochs():
        for batch in stage_batches(data, config.batch_size, config, generator):
            stage.add(run(batch), len(batch))
        if schedule is not None:
            schedule.step()


def input_neighbors(inputs: torch.Tensor, n_neighbors: int, n_pcs: int, seed: int,
                    metric: NeighborMetric) -> torch.Tensor:
    """Each cell's `n_neighbors` nearest other cells on the inputs' first `n_pcs` principal components, by angle
    (cosine: unit-length components) or distance; (n, k)."""
    n_neighbors = min(n_neighbors, len(inputs) - 1)
    pcs = PCA(n_components=min(n_pcs, *inputs.shape), random_state=seed).fit_transform(inputs.cpu().numpy())
    if metric == "cosine":
        pcs = normalize(pcs)
    neighbors = NearestNeighbors(n_neighbors=n_neighbors).fit(pcs).kneighbors(return_distance=False)  # self left out
    return torch.as_tensor(neighbors, device=inputs.device)


def partner_latent(member: torch.nn.Module, data: TrainData, neighbors: torch.Tensor, batch: torch.Tensor,
                   noise: float, generator: torch.Generator) -> torch.Tensor:
    """`member`'s latent of a noisy view of one random input neighbour of each batch cell: the contrastive partner."""
    pick = torch.randint(neighbors.shape[1], (len(batch),), generator=generator).to(neighbors.device)
    partner = data.inputs[neighbors[batch, pick]]
    return member.encoder(partner + noise * torch.randn_like(partner))


def pretrain_dense(members: torch.nn.ModuleList, data: TrainData, neighbors: torch.Tensor | None, config: TrainConfig,
                   generator: torch.Generator, stage: _Stage) -> None:
    """Stage 1b: each dense member learns the ZINB of the panel's raw counts from noisy inputs, as scDeepCluster, and
    (with `neighbors`, contrast_weight > 0) to place each cell beside a random one of its input neighbours, with its
    own optimizer, batches and noise; the stage's loss is the members' mean."""
    optimizers = [adam(member.parameters(), data.inputs.device, lr=config.dense_lr, amsgrad=True) for member in members]
    for _ in stage.epochs():
        for member, optimizer in zip(members, optimizers):
            for batch in stage_batches(data, config.dense_batch_size, config, generator):
                x = data.inputs[batch]
                latent = member.encoder(x + config.dense_noise * torch.randn_like(x))
                loss = member.nll_of_latent(latent, data.counts[batch], data.size_factors[batch]).mean() / data.n_genes
                if neighbors is not None:
                    partner = partner_latent(member, data, neighbors, batch, config.dense_noise, generator)
                    loss = loss + config.contrast_weight * neighbor_contrast(latent, partner, config.contrast_temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                stage.add(loss, len(batch) / len(members))  # the epoch's loss: the members' mean


def dec_stage(model: ScSMD, data: TrainData, image_latent: torch.Tensor, centroids: torch.Tensor,
              neighbors: torch.Tensor | None, config: TrainConfig, generator: torch.Generator, stage: _Stage
              ) -> torch.Tensor:
    """Stage 1c, scDeepCluster's clustering stage on the joint latent: the dense members and the centroids learn to
    sharpen the clusters (KL to DEC's target, refreshed each epoch) while the members keep their ZINB of the counts
    (and, with `neighbors`, their neighbour-contrastive term at dec_contrast_weight); the image block stays as
    pretrained. Returns the moved centroids."""
    embedder = model.embedder
    centroids = torch.nn.Parameter(centroids.clone())
    optimizer = torch.optim.Adadelta([*model.dense.parameters(), centroids], lr=config.dec_lr, rho=0.95)
    schedule = rate_schedule(optimizer, config.dec_schedule, config.dec_epochs)
    for _ in stage.epochs():
        dense_latent = encode(model, data.inputs, encoder=embedder.dense)
        target = sharpened_target(student_t_memberships(embedder.combine(image_latent, dense_latent), centroids.detach()))
        for batch in stage_batches(data, config.dense_batch_size, config, generator):
            x, counts, size_factors = data.inputs[batch], data.counts[batch], data.size_factors[batch]
            noisy = x + config.dense_noise * torch.randn_like(x)
            noisy_latents = [member.encoder(noisy) for member in model.dense]
            zinb = torch.stack([member.nll_of_latent(z, counts, size_factors).mean()
                                for member, z in zip(model.dense, noisy_latents)]).mean()
            latent = embedder.combine(image_latent[batch], embedder.dense(x))
            loss = zinb / data.n_genes + config.dec_weight * kl_to_target(
                target[batch], student_t_memberships(latent, centroids))
            if neighbors is not None:
                loss = loss + config.dec_contrast_weight * torch.stack([neighbor_contrast(
                    z, partner_latent(member, data, neighbors, batch, config.dense_noise, generator),
                    config.contrast_temperature) for member, z in zip(model.dense, noisy_latents)]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            stage.add(loss, len(batch))
        if schedule is not None:
            schedule.step()
    return centroids.detach()


def fuzzy_stage(model: ScSMD, data: TrainData, centroids: torch.Tensor, config: TrainConfig,
                generator: torch.Generator, stage: _Stage) -> torch.Tensor:
    """Stage 2: reconstruction + centroid pull + NB on counts, weighted by fuzzy memberships; returns centroids. The
    pull acts on the latent the centroids live in (with a dense branch, the joint one), the rest on the image's."""
    embedder = model.embedder
    params = [*embedder.parameters(), *model.decoder.parameters(), *model.nb_head.parameters()]
    optimizer = torch.optim.SGD(params, lr=config.fuzzy_lr, momentum=config.fuzzy_momentum)
    for epoch in stage.epochs():
        for batch in stage_batches(data, config.batch_size, config, generator):
            x = data.inputs[batch]
            latent, recon_error, nb_error = _reconstruction_errors(
                model, x, data.counts[batch], data.size_factors[batch])
            latent = embedder.join(latent, x)
            weights = fuzzy_memberships(latent.detach(), centroids, config.fuzzifier) ** config.fuzzifier
            loss = fuzzy_loss(recon_error, nb_error, latent, centroids, weights,
                              config.centroid_weight, config.nb_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            stage.add(loss, len(batch))
        if (epoch + 1) % config.centroid_update_every == 0:
            centroids = _weighted_centroids(encode(model, data.inputs), centroids, config.fuzzifier)
    return centroids


def cellnet_stage(model: ScSMD, data: TrainData, centroids: torch.Tensor, config: TrainConfig,
                  generator: torch.Generator, stage: _Stage) -> torch.Tensor:
    """Stage 3: the Cellnet head learns pairwise same/different from fuzzy memberships, then from itself."""
    embedder = model.embedder  # built once: the property makes new wrappers on every access
    optimizer = adam([
        {"params": model.cluster_head.parameters(), "lr": config.head_lr},
        {"params": embedder.parameters(), "lr": config.cellnet_ae_lr},
    ], data.inputs.device)
    for epoch in stage.epochs():
        use_fuzzy_targets = epoch <= config.fuzzy_target_epochs
        for batch in stage_batches(data, config.batch_size, config, generator):
            latent = embedder(data.inputs[batch])
            cluster_probs = model.cluster_head(latent)
            source = fuzzy_memberships(latent.detach(), centroids, config.fuzzifier) if use_fuzzy_targets else cluster_probs
            loss = pairwise_loss(cluster_probs, pair_targets(source), config.similar_above, config.dissimilar_below,
                                 config.pair_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            stage.add(loss, len(batch))
        if use_fuzzy_targets:
            centroids = _weighted_centroids(encode(model, data.inputs), centroids, config.fuzzifier)
    return centroids


def train_model(data: TrainData, model_config: ModelConfig, config: TrainConfig,
                on_epoch: EpochCallback | None = None) -> TrainResult:
    """Run the three stages on one device and return the model with its clusters; same seed, same result. Without
    `model_config.n_clusters`, K is estimated after pretraining and the returned model's config records it."""
    device = resolve_device(config.device)
    with exact_kernels(device):
        return _train_on(device, data, model_config, config, on_epoch)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively: a CUDA GPU from Ampere on, a CPU with AMX or AVX512-BF16 (others
    emulate it, slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return any(getattr(torch.cpu, check, lambda: False)() for check in ("_is_amx_tile_supported",
                                                                           "_is_avx512_bf16_supported"))


def _train_on(device: torch.device, data: TrainData, model_config: ModelConfig, config: TrainConfig,
              on_epoch: EpochCallback | None) -> TrainResult:
    """train_model's stages, once the device and its kernels are set."""
    timer = StageTimer()
    with timer("setup"):  # the device's start (a CUDA context) and the copies to it
        data = data.to(device)
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        model = ScSMD(model_config).to(device)
        if config.channels_last and device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
    model.train()
    history: list[dict] = []
    if config.pretrain_bf16 and not native_bf16(device):
        log.warning("--bf16: this %s has no native bfloat16, so the pretraining will be slower than in float32; "
                    "drop --bf16", device.type.upper())

    def stage(name: str, n_epochs: int) -> _Stage:
        return _Stage(name, n_epochs, history, on_epoch)

    pretrain(model, data, config, generator, stage("pretrain", config.pretrain_epochs))
    if model.dense is None:
        with timer("encode"):
            latent = encode(model, data.inputs)
    else:
        with timer("neighbors"):
            contrast = config.contrast_weight > 0 or config.dec_contrast_weight > 0
            neighbors = input_neighbors(data.inputs, config.contrast_neighbors, config.contrast_pcs, config.seed,
                                        config.contrast_metric) if contrast else None
        pretrain_dense(model.dense, data, neighbors if config.contrast_weight > 0 else None, config, generator,
                       stage("dense", config.dense_epochs))
        with timer("encode"):
            image, dense = (encode(model, data.inputs, encoder=e) for e in (model.encoder, model.embedder.dense))
            model.fix_block_scales(image, dense)
            latent = model.embedder.combine(image, dense)  # each encoder ran once over the cells
    latent = latent.cpu().numpy()
    if model.cluster_head is None:
        with timer("estimate_k"):
            n_clusters = estimate_n_clusters(latent, config.leiden_resolution, config.seed)
        log.info("K %d (%s)", n_clusters, estimate_source(config.leiden_resolution))
        model.add_cluster_head(n_clusters)
    with timer("kmeans"):
        centroids, smoothed = kmeans_centroids(latent, model.config.n_clusters, config, config.seed)
    centroids = torch.as_tensor(centroids, dtype=torch.float32, device=device)
    if model.dense is not None:
        centroids = dec_stage(model, data, image, centroids, neighbors if config.dec_contrast_weight > 0 else None,
                              config, generator, stage("dec", config.dec_epochs))
    centroids = fuzzy_stage(model, data, centroids, config, generator, stage("fuzzy", config.fuzzy_epochs))
    centroids = cellnet_stage(model, data, centroids, config, generator, stage("cellnet", config.cellnet_epochs))

    model.eval()
    with timer("final_clusters"):
        if model.dense is None or config.fuzzy_epochs or config.cellnet_epochs:
            latent = encode(model, data.inputs)
        else:  # only the dense block trained since `image` was encoded: one pass of the CNN fewer
            latent = model.embedder.combine(image, encode(model, data.inputs, encoder=model.embedder.dense))
        with torch.no_grad():
            probs = model.cluster_head(latent) if config.cellnet_epochs > 0 else \
                fuzzy_memberships(latent, centroids, config.fuzzifier)  # an untrained head has no clusters
            head_labels = probs.argmax(dim=1).cpu().numpy()
        latent_np, head_centroids = latent.cpu().numpy(), centroids.cpu().numpy().astype(np.float64)
        final_neighbors = config.smoothing_neighbors if smoothed else 0
        with threadpool_limits(limits=config.kmeans_threads):
            labels, final_centroids = final_clusters(latent_np, head_labels, head_centroids, config.seed,
                                                     final_neighbors, config.final_smoothing_steps,
                                                     config.final_partition, config.linkage_cells, config.mixture_reg)
    model = model.cpu().to(memory_format=torch.contiguous_format)  # saved and exported in the plain layout
    result = TrainResult(model, latent_np, labels, final_centroids, head_labels, head_centroids, final_neighbors,
                         str(device), history, timer.seconds)
    log.info("final clusters: nearest-centroid agrees with the %s on %.1f%% of cells",
             "Cellnet head" if config.cellnet_epochs > 0 else "fuzzy memberships", 100 * result.head_agreement)
    return result
