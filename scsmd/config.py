"""One frozen dataclass per stage, with the published defaults of docs/method.md (stdlib only)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from scsmd.errors import ScsmdError

Device = Literal["auto", "cpu", "cuda"]
HvgFlavor = Literal["auto", "seurat", "seurat_v3", "seurat_v3_pca"]
HVG_FLAVORS = get_args(HvgFlavor)
Likelihood = Literal["nb", "zinb"]
LrSchedule = Literal["constant", "cosine"]
NeighborMetric = Literal["cosine", "euclidean"]
FinalPartition = Literal["lloyd", "average", "mixture"]
FINAL_PARTITIONS = get_args(FinalPartition)
IMAGE_SIDES = (28, 32)  # the panel's square layouts the network takes: method.md's 28x28, and 32x32 for 1024 genes


def _check(condition: bool, message: str) -> None:
    """Raise ScsmdError with `message` unless `condition` holds."""
    if not condition:
        raise ScsmdError(message)


def image_side_for(n_genes: int) -> int:
    """The smallest image the network takes that holds a panel of `n_genes`: 28 (method.md) up to 784 genes, else 32."""
    return next(side for side in IMAGE_SIDES if n_genes <= side**2)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity), not all the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class PreprocessConfig:
    """How raw counts become the log-normalized gene panel the network sees."""

    n_genes: int = 784  # panel size; up to 784 the 28x28 image, up to 1024 the 32x32 one; the rest is zero-padded
    # (with a dense branch, 784 or 1024: the dense genes follow a full image)
    min_cells: int = 3  # drop genes expressed in fewer cells before choosing the panel
    target_sum: float = 1e4  # each cell is scaled to this total before log1p
    # how the panel is ranked: "seurat_v3" on raw counts (its genes hold 2-4x more of each cell's counts), or
    # "seurat" on log data (method.md's UMI choice; the reference preset). Unscaled, seurat_v3's highly expressed
    # genes dominate (baron -0.26 ARI); standardized, it is the better panel (bench/README.md, ablation rows).
    # "seurat_v3_pca": the image's genes by the mean of each gene's seurat_v3 place and its place by the share of its
    # standardized log expression that the first `ranking_pcs` principal components of all genes hold (blind to a
    # gene's reads per molecule, which seurat_v3 alone takes for variability on read counts); the dense branch's rest
    # likewise, but by the share the image's genes' components hold (all genes' rank genes that vary within baron's
    # beta cells). "auto", the default: seurat_v3 where the median cell holds at most `read_counts_per_gene` counts a
    # detected gene (UMI sets 1.6-5.0), seurat_v3_pca above (read-scaled 33-120). On simulated reads, mean ARI:
    # bladder 0.407 -> 0.599, worm 0.372 -> 0.642, baron 0.915 -> 0.870, pbmc 0.787 -> 0.787 (seurat_v3 -> auto)
    # (bench/README.md, sessions 47-49)
    hvg_flavor: HvgFlavor = "auto"
    read_counts_per_gene: float = 10.0
    ranking_pcs: int = 50
    scale: bool = True  # standardize each panel gene (training mean and sd) before the image, as sc.pp.scale
    scale_max: float = 10.0  # clip standardized values to +-this (sc.pp.scale's max_value)
    # genes of the dense branch beside the image (0: none): the top `dense_genes` of the same ranking, the image's
    # genes first; scDeepCluster's 2000 (bench/README.md, session 16)
    dense_genes: int = 2000

    def __post_init__(self) -> None:
        _check(1 <= self.n_genes <= IMAGE_SIDES[-1] ** 2,
               f"n_genes must be between 1 and {IMAGE_SIDES[-1] ** 2} (the largest image, "
               f"{IMAGE_SIDES[-1]}x{IMAGE_SIDES[-1]}), got {self.n_genes}")
        _check(self.min_cells >= 0, f"min_cells must be >= 0, got {self.min_cells}")
        _check(self.target_sum > 0, f"target_sum must be > 0, got {self.target_sum}")
        _check(self.hvg_flavor in HVG_FLAVORS,
               f"hvg_flavor must be one of {', '.join(HVG_FLAVORS)}, got {self.hvg_flavor!r}")
        _check(self.read_counts_per_gene > 0 and self.ranking_pcs >= 1, f"need read_counts_per_gene > 0 and "
               f"ranking_pcs >= 1, got {self.read_counts_per_gene}, {self.ranking_pcs}")
        _check(self.scale_max > 0, f"scale_max must be > 0, got {self.scale_max}")
        _check(self.dense_genes == 0 or self.dense_genes >= self.n_genes,
               f"dense_genes must be 0 (no dense branch) or at least n_genes ({self.n_genes}), got {self.dense_genes}")
        side = image_side_for(self.n_genes)
        _check(self.dense_genes <= self.n_genes or self.n_genes == side**2,  # else the dense genes fill its pixels
               f"with a dense branch n_genes must fill the {side}x{side} image ({side**2} genes), got {self.n_genes}; "
               f"give n_genes {side**2} (--n-genes), or dense_genes 0 (--dense-genes 0) for a smaller zero-padded panel")

    def image_side(self, n_panel: int) -> int:
        """The image's side for a panel of `n_panel` genes: its first `n_genes` (or all) make the image."""
        return image_side_for(min(n_panel, self.n_genes))


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape: method.md section 2."""

    n_clusters: int | None = 8  # None: estimated after pretraining (TrainConfig.leiden_resolution)
    latent_dim: int = 20  # method.md's 10 is the reference preset's; 20 lifts worm +0.04 mean ARI (bench/README.md)
    dilations: tuple[int, ...] = (2, 4, 6, 8)  # the multi-dilated attention gate's branches
    image_side: int = 28
    # of the raw panel counts: zero-inflated NB (an extra dropout head; worm +0.06 mean ARI over KMeans draws, the
    # rest within 0.01: bench/README.md) or method.md's NB (the reference preset's)
    likelihood: Likelihood = "zinb"
    # the dense branch: scDeepCluster's fully connected ZINB autoencoder over the whole panel, its unit-length latent
    # beside the image's, weighted against it (bench/README.md, session 16)
    dense_genes: int = 0  # panel genes it reads and reconstructs, set from the panel by training (0: no branch)
    dense_latent_dim: int = 32
    # autoencoders, each its own init, batches and noise, their unit-length latents side by side (a consensus over
    # seeds: the dense block decides worm's KMeans start). Two, with DEC and the contrastive term: pbmc +0.005 mean
    # ARI, worm +0.007 with its sd 0.060 -> 0.040 (5 seeds each), the never-tuned demo set +0.046, baron -0.002,
    # bladder +0.003, for 51 s more on pbmc (2 cores); three, before DEC, lost bladder 0.035 (bench/README.md, session 35)
    dense_members: int = 2
    dense_weight: float = 0.7  # its latent's total sd over the image latent's

    def __post_init__(self) -> None:
        _check(self.likelihood in ("nb", "zinb"), f"likelihood must be nb or zinb, got {self.likelihood!r}")
        _check(self.n_clusters is None or self.n_clusters >= 2, f"n_clusters must be >= 2, got {self.n_clusters}")
        _check(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        _check(len(self.dilations) >= 1 and all(d >= 1 for d in self.dilations),
               f"dilations must be positive integers, got {self.dilations}")
        _check(self.image_side in IMAGE_SIDES,
               f"the network takes a {' or '.join(f'{s}x{s}' for s in IMAGE_SIDES)} image, got image_side={self.image_side}")
        _check(self.dense_genes >= 0 and self.dense_latent_dim >= 1 and self.dense_members >= 1
               and self.dense_weight > 0,
               f"need dense_genes >= 0, dense_latent_dim >= 1, dense_members >= 1, dense_weight > 0, got "
               f"{self.dense_genes}, {self.dense_latent_dim}, {self.dense_members}, {self.dense_weight}")

    @property
    def n_inputs(self) -> int:
        """Width of the encoder's input: the image's pixels, then the panel genes past them (dense branch only)."""
        return max(self.image_side**2, self.dense_genes)

    @property
    def embedding_dim(self) -> int:
        """Width of the latent the clusters live in: the image's, and the dense members' beside it."""
        return self.latent_dim + (self.dense_members * self.dense_latent_dim if self.dense_genes else 0)


@dataclass(frozen=True)
class TrainConfig:
    """The three training stages (method.md section 3). Defaults are the `default` preset (bench/README.md's
    ablation table); `preset("reference")` is the published schedule with its defects fixed."""

    batch_size: int = 100
    seed: int = 0
    device: Device = "auto"
    # on CUDA, replay the image pretraining's step as one captured graph (scsmd/train/graphs.py): the step is
    # launch-bound there; off until a GPU session measures it (bench/README.md)
    cuda_graphs: bool = False
    # on a CPU, the image network's convolutions in channels-last layout (oneDNN's NHWC kernels): a pbmc pretraining
    # epoch 13.8 -> 12.4 s on 2 threads, but other rounding, so other results; off until the bench sets are rerun
    # (bench/README.md, session 56)
    channels_last: bool = False
    # every stage's epoch draws at least this many cells: a smaller set's epoch goes on into further shuffled passes
    # (0: one pass), so a set of a few hundred cells or fewer gets about the steps a 500-cell one does; the bench's
    # sets, all of 500 cells or more, train as before (bench/README.md, session 43)
    min_epoch_cells: int = 500
    # and at least this many batches of the stage's own size (0: no such floor). 5 keeps the image stage's 500 cells
    # and gives the dense stages (batches of 256) 1280: baron and bladder at 20 cells a type +0.063 mean ARI, but
    # bladder's 250 random cells -0.083 and the demo's set 0.624 -> 0.584 (sd 0.069), so off (bench/README.md,
    # session 52)
    min_epoch_batches: int = 0
    # stage 1: autoencoder pretraining
    pretrain_epochs: int = 30
    pretrain_lr: float = 1e-3
    pretrain_schedule: LrSchedule = "cosine"  # cosine decay to zero settles the latent before clustering
    # its convolutions in bfloat16 (autocast; losses, optimizer and the latent clustered stay float32): on the 2-core
    # CPU's AMX, pbmc's pretraining 289 s instead of 363 s, but mean ARI over seeds 0-2 baron +0.005, bladder -0.011,
    # pbmc -0.004, worm -0.024 (bench/README.md, session 38), so off; `scsmd train --bf16` trades them for the time
    pretrain_bf16: bool = False
    pretrain_nb_weight: float = 0.1  # NB likelihood of the raw panel counts beside the MSE (DCA / scDeepCluster)
    # stage 1b, with a dense branch: scDeepCluster's pretraining (ZINB alone, noisy input, Adam with amsgrad)
    dense_epochs: int = 30
    dense_lr: float = 1e-3
    dense_batch_size: int = 256
    dense_noise: float = 2.5  # sd of the Gaussian noise on its standardized input
    # beside the ZINB, a contrastive term (InfoNCE): each cell's noisy view is pulled towards a noisy view of one of
    # its `contrast_neighbors` nearest cells (on the inputs' first `contrast_pcs` principal components) and pushed
    # from the batch's other cells, as graph-contrastive clustering (scGPCL) does (0: ZINB alone). Its temperature,
    # in both stages: 0.5 spread baron's large types (beta, ductal) until KMeans split them on two seeds of three
    # (0.701); 1.0 holds baron but leaves worm's seed 0 a poor KMeans start (0.45); 0.7 holds baron too and lifts worm
    # 0.530 -> 0.580 (sd 0.058 -> 0.018), bladder +0.030, baron +0.003, pbmc -0.002 (bench/README.md, sessions 21-23)
    contrast_weight: float = 1.0  # beside the ZINB per count
    contrast_temperature: float = 0.7
    contrast_neighbors: int = 10
    contrast_pcs: int = 50
    # those neighbours by angle on the components (cosine) rather than by distance: a shallow cell's short vector lies
    # near the origin, among cells of every type. 250 random cells: baron 0.424 -> 0.860 mean ARI, pbmc +0.055; the
    # full sets level within their seeds' spread, 20 cells a type -0.018 (bench/README.md, session 45)
    contrast_metric: NeighborMetric = "cosine"
    # stage 1c, with a dense branch: scDeepCluster's clustering stage (DEC) on the joint latent from the KMeans
    # clusters: the dense members learn to sharpen them (KL to DEC's target) beside their ZINB; the image block is fixed.
    # End to end: worm +0.032 mean ARI (sd 0.058 -> 0.029), pbmc +0.005, baron -0.006, bladder -0.008 (bench/README.md,
    # session 18); longer DEC: worm flat after 60 epochs, bladder falls (session 19)
    dec_epochs: int = 40
    dec_lr: float = 1.0  # Adadelta, as scDeepCluster
    # Adadelta's rate over the stage: constant, as scDeepCluster (~1% of cells change cluster every epoch to the last),
    # or cosine to zero (settles them: pbmc +0.003, bladder +0.002, but worm -0.009, baron -0.002; bench/README.md)
    dec_schedule: LrSchedule = "constant"
    dec_weight: float = 0.1  # gamma, the KL's weight beside the ZINB (per count)
    # the neighbour-contrastive term kept during DEC, at this weight (0: off): at temperature 1 it lifts all four bench
    # sets (baron +0.016, bladder +0.020, pbmc +0.004, worm +0.017 mean ARI; bench/README.md, session 22); at 0.5 it
    # split baron's beta cells (session 21)
    dec_contrast_weight: float = 1.0
    # K when none is given: Leiden's communities on the pretrained latent's 15-NN graph at this resolution. scanpy's
    # 1.0 found 16 / 13 / 20 / 25 clusters on baron / bladder / pbmc / worm (true 13 / 16 / 8 / 10), 0.5 finds 10-11
    # / 10-11 / 13 / 17-18 and scores higher on all four (end to end: 0.933 / 0.711 / 0.745 / 0.481; bench/README.md)
    leiden_resolution: float = 0.5
    kmeans_starts: int = 100  # KMeans restarts on the latent; the lowest inertia wins (10 is seed-dependent)
    # threads of the smoothing and KMeans (100 restarts): more threads mostly wait on each other at the restarts' many
    # barriers (pbmc's latent on the 2 cores: 0.56 s on 1 thread, 1.53 s on 2; beside two busy processes 0.89 vs
    # 7.1 s; on an H200 host 0.33 / 0.24 / 0.41 s on 1 / 4 / 16 threads idle, 13.5 s on 16 in a busy whole run;
    # bench/README.md), and one thread clusters a latent alike on any number of cores
    kmeans_threads: int = 1
    # KMeans on the latent averaged over each cell's k nearest neighbours, `smoothing_steps` times (0: off): denser
    # groups, +0.006 to +0.014 mean ARI on all four bench sets (bench/README.md); the centroids are those clusters'
    # means on the raw latent, without Lloyd steps there (which would pull them back towards the raw partition)
    smoothing_neighbors: int = 10
    smoothing_steps: int = 3
    # the final clusters, with smoothing on: Lloyd steps from the last stage's clusters (DEC's) on the latent averaged
    # this many times over the same neighbours, then their raw-latent means as centroids: worm +0.033 mean ARI,
    # bladder +0.011, baron and pbmc within 0.001 (3 times: worm +0.033, bladder +0.005; bench/README.md, session 28)
    final_smoothing_steps: int = 1
    # how the final clusters are drawn from that once-smoothed latent: Lloyd steps from the last stage's clusters
    # ("lloyd"); those refined by a Gaussian mixture with diagonal covariances fitted by EM on the raw latent, its
    # means the centroids ("mixture": each cluster its own spread, where K-means gives all one); or average-linkage
    # agglomeration ("average", on at most `linkage_cells` cells drawn at random: its memory grows with their square).
    # The mixture ends the demo's near tie (ARI 0.573 -> 0.624 over five seeds, sd 0.060 -> 0.012), keeps the four
    # full sets within 0.003 of Lloyd's, and gains on small samples (mean ARI over seeds 0-2: +0.013 at 100 random
    # cells, +0.007 at 250, +0.016 at 500, +0.009 at 20 cells a type; bench/README.md, session 51).
    # Average linkage keeps wide types whole but joins pbmc's and worm's touching types (pbmc -0.36, worm -0.15;
    # session 42).
    final_partition: FinalPartition = "mixture"
    linkage_cells: int = 10_000
    # the mixture's floor on every variance, as a share of the latent's mean variance (0.005-0.02 score alike; 0.05
    # brings the demo's near tie back: session 50)
    mixture_reg: float = 0.02
    # stage 2: fuzzy clustering module
    fuzzy_epochs: int = 0
    fuzzy_lr: float = 1e-6
    fuzzy_momentum: float = 0.9
    fuzzifier: float = 1.5  # m
    centroid_update_every: int = 2  # T1, epochs
    centroid_weight: float = 0.2  # a, weight of ||latent - centroid||^2
    nb_weight: float = 0.1  # beta, weight of the NB likelihood on raw counts
    # stage 3: Cellnet pairwise module
    cellnet_epochs: int = 0
    head_lr: float = 1e-3
    cellnet_ae_lr: float = 1e-6
    fuzzy_target_epochs: int = 1  # T2: pairs come from fuzzy memberships while epoch <= T2
    similar_above: float = 0.8  # zeta
    dissimilar_below: float = 0.2  # gamma
    pair_weight: float = 1e-4
    # bundle: distance quantile beyond which a cell fits no cluster
    novelty_quantile: float = 0.99
    # with --label-key, after clustering: logistic regression on the scaled top highly variable genes and the latent
    label_head_genes: int = 2000  # CellTypist-style gene features beside the latent (bench/README.md, label transfer)
    label_head_c: float = 1.0  # inverse regularization, CellTypist's default

    def epoch_floor(self, batch_size: int) -> int:
        """The cells an epoch of a stage in batches of `batch_size` draws at least: the floor in cells or in batches."""
        return max(self.min_epoch_cells, self.min_epoch_batches * batch_size)

    def __post_init__(self) -> None:
        _check(self.batch_size >= 2, f"batch_size must be >= 2, got {self.batch_size}")
        _check(self.min_epoch_cells >= 0 and self.min_epoch_batches >= 0, f"min_epoch_cells and min_epoch_batches "
               f"must be >= 0, got {self.min_epoch_cells}, {self.min_epoch_batches}")
        _check(self.dense_batch_size >= 2 and self.dense_noise >= 0 and self.dense_lr > 0,
               f"need dense_batch_size >= 2, dense_noise >= 0, dense_lr > 0, got {self.dense_batch_size}, "
               f"{self.dense_noise}, {self.dense_lr}")
        _check(self.contrast_weight >= 0, f"contrast_weight must be >= 0 (0: no contrastive term), got {self.contrast_weight}")
        _check(self.contrast_temperature > 0 and self.contrast_neighbors >= 1 and self.contrast_pcs >= 1,
               f"need contrast_temperature > 0, contrast_neighbors >= 1, contrast_pcs >= 1, got "
               f"{self.contrast_temperature}, {self.contrast_neighbors}, {self.contrast_pcs}")
        _check(self.contrast_metric in ("cosine", "euclidean"),
               f"contrast_metric must be cosine or euclidean, got {self.contrast_metric!r}")
        _check(self.dec_lr > 0 and self.dec_weight >= 0 and self.dec_contrast_weight >= 0,
               f"need dec_lr > 0, dec_weight >= 0 and dec_contrast_weight >= 0, got {self.dec_lr}, {self.dec_weight}, "
               f"{self.dec_contrast_weight}")
        for name in ("pretrain_epochs", "dense_epochs", "dec_epochs", "fuzzy_epochs", "cellnet_epochs", "fuzzy_target_epochs"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("pretrain_schedule", "dec_schedule"):
            _check(getattr(self, name) in ("constant", "cosine"),
                   f"{name} must be constant or cosine, got {getattr(self, name)!r}")
        _check(self.pretrain_nb_weight >= 0, f"pretrain_nb_weight must be >= 0, got {self.pretrain_nb_weight}")
        _check(self.leiden_resolution > 0, f"leiden_resolution must be > 0, got {self.leiden_resolution}")
        _check(self.kmeans_starts >= 1, f"kmeans_starts must be >= 1, got {self.kmeans_starts}")
        _check(self.kmeans_threads >= 1, f"kmeans_threads must be >= 1, got {self.kmeans_threads}")
        _check(self.smoothing_neighbors >= 0 and self.smoothing_steps >= 0 and self.final_smoothing_steps >= 0,
               f"smoothing_neighbors, smoothing_steps and final_smoothing_steps must be >= 0, got "
               f"{self.smoothing_neighbors}, {self.smoothing_steps}, {self.final_smoothing_steps}")
        _check(self.final_partition in FINAL_PARTITIONS,
               f"final_partition must be {', '.join(FINAL_PARTITIONS[:-1])} or {FINAL_PARTITIONS[-1]}, got "
               f"{self.final_partition!r}")
        _check(self.mixture_reg > 0, f"mixture_reg must be > 0, got {self.mixture_reg}")
        _check(self.linkage_cells >= 2, f"linkage_cells must be >= 2, got {self.linkage_cells}")
        _check(self.fuzzifier > 1, f"fuzzifier m must be > 1, got {self.fuzzifier}")
        _check(self.centroid_update_every >= 1, f"centroid_update_every must be >= 1, got {self.centroid_update_every}")
        _check(0 <= self.dissimilar_below < self.similar_above <= 1,
               f"need 0 <= dissimilar_below < similar_above <= 1, got {self.dissimilar_below}, {self.similar_above}")
        _check(self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}")
        _check(self.label_head_genes >= 1, f"label_head_genes must be >= 1, got {self.label_head_genes}")
        _check(self.label_head_c > 0, f"label_head_c must be > 0, got {self.label_head_c}")
        _check(0 < self.novelty_quantile <= 1, f"novelty_quantile must be in (0, 1], got {self.novelty_quantile}")


# The published schedule (method.md section 3): 20 + 20 + 20 epochs, MSE-only pretraining at a constant rate, on
# method.md's panel: seurat-ranked genes of log data, unscaled.
REFERENCE_SCHEDULE = {"pretrain_epochs": 20, "pretrain_schedule": "constant", "pretrain_nb_weight": 0.0,
                      "kmeans_starts": 10, "smoothing_neighbors": 0, "fuzzy_epochs": 20, "cellnet_epochs": 20,
                      "min_epoch_cells": 0, "final_partition": "lloyd"}
REFERENCE_PANEL = {"hvg_flavor": "seurat", "scale": False, "dense_genes": 0}
REFERENCE_MODEL = {"latent_dim": 10, "likelihood": "nb"}
PRESETS = {"default": ({}, {}, {}), "reference": (REFERENCE_PANEL, REFERENCE_MODEL, REFERENCE_SCHEDULE)}
# name: (preprocess, model, train) fields


def _preset_fields(name: str, stage: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """A preset's fields for one stage with `overrides` on top (None values are ignored)."""
    _check(name in PRESETS, f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return {**PRESETS[name][stage], **{k: v for k, v in overrides.items() if v is not None}}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named training schedule with some fields replaced (None values are ignored)."""
    return TrainConfig(**_preset_fields(name, 2, overrides))


def preprocess_preset(name: str, **overrides: Any) -> PreprocessConfig:
    """A named preset's panel preprocessing with some fields replaced (None values are ignored)."""
    return PreprocessConfig(**_preset_fields(name, 0, overrides))


def model_preset(name: str, **overrides: Any) -> ModelConfig:
    """A named preset's network shape with some fields replaced (None values are ignored)."""
    return ModelConfig(**_preset_fields(name, 1, overrides))


EXPORT_FORMATS = ("onnx", "torchscript", "int8", "fp16")


@dataclass(frozen=True)
class ExportConfig:
    """Encoder export to ONNX / TorchScript and the parity check that gates it."""

    formats: tuple[str, ...] = EXPORT_FORMATS
    opset: int = 17
    atol: float = 1e-4  # max |latent difference| allowed between torch and the export
    min_agreement: float = 0.99  # nearest-centroid clusters that must agree with torch
    int8_calibration: Literal["percentile", "minmax", "entropy"] = "percentile"
    reduced_min_agreement: float = 0.99  # nearest-centroid clusters an int8 / fp16 model must share with fp32, else not shipped

    def __post_init__(self) -> None:
        _check(set(self.formats) <= set(EXPORT_FORMATS) and len(self.formats) > 0,
               f"formats must be among {', '.join(EXPORT_FORMATS)}, got {self.formats}")
        _check(self.opset >= 13, f"opset must be >= 13, got {self.opset}")
        _check(self.int8_calibration in ("percentile", "minmax", "entropy"),
               f"int8_calibration must be percentile, minmax or entropy, got {self.int8_calibration!r}")
        _check(0 < self.reduced_min_agreement <= 1,
               f"reduced_min_agreement must be in (0, 1], got {self.reduced_min_agreement}")


@dataclass(frozen=True)
class EmbedConfig:
    """The light inference path: streaming, backend, and how cells are assigned."""

    chunk_size: int = 4096
    backend: Literal["onnx", "torchscript"] = "onnx"
    provider: Literal["auto", "cuda", "cpu"] = "auto"
    min_gene_overlap: float = 0.5
    n_threads: int = field(default_factory=usable_cores)  # encoder threads; reading runs on one more
    precision: Literal["auto", "fp32", "int8", "fp16"] = "auto"  # auto: the bundle's fp16 on a GPU, int8 on a CPU

    def __post_init__(self) -> None:
        _check(self.chunk_size >= 1, f"chunk size must be >= 1, got {self.chunk_size}")
        _check(self.n_threads >= 1, f"n_threads must be >= 1, got {self.n_threads}")
        _check(self.backend in ("onnx", "torchscript"), f"backend must be onnx or torchscript, got {self.backend!r}")
        _check(self.provider in ("auto", "cuda", "cpu"), f"provider must be auto, cuda or cpu, got {self.provider!r}")
        _check(self.precision in ("auto", "fp32", "int8", "fp16"),
               f"precision must be auto, fp32, int8 or fp16, got {self.precision!r}")
        _check(self.backend == "onnx" or self.precision in ("auto", "fp32"),
               f"--precision {self.precision} needs --backend onnx; TorchScript runs fp32 only")
        _check(0 <= self.min_gene_overlap <= 1, f"min_gene_overlap must be in [0, 1], got {self.min_gene_overlap}")


def to_dict(config: Any) -> dict[str, Any]:
    """A config as plain JSON-ready values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a config from `to_dict` output, ignoring keys this version does not know."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
    return cls(**kwargs)
