"""The scSMD network (method.md section 2), block by block in reading order, then ScSMD assembling them."""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from scsmd.config import ModelConfig
from scsmd.train.losses import nb_nll, zinb_nll


class ConvBlock(nn.Module):
    """[conv3x3 (bias) -> BN -> ReLU] x 2, size kept."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SqueezeAttention(nn.Module):
    """A full-resolution branch gated by a half-resolution attention branch: att * res + att."""

    def __init__(self, channels: int):
        super().__init__()
        self.res = ConvBlock(channels)
        self.att = ConvBlock(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.res(x)
        att = self.att(F.avg_pool2d(x, 2))  # (n, c, h/2, w/2)
        att = F.interpolate(att, size=res.shape[-2:], mode="nearest")  # back to (n, c, h, w)
        return att * res + att


class MultiDilatedGate(nn.Module):
    """MDSAB: parallel dilated 3x3 convs -> 1x1 conv -> sigmoid gate g; returns x + x * g."""

    def __init__(self, channels: int, dilations: tuple[int, ...]):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.BatchNorm2d(channels))
            for d in dilations
        )
        self.fuse = nn.Sequential(nn.Conv2d(channels * len(dilations), channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = F.relu(torch.cat([branch(x) for branch in self.branches], dim=1))  # (n, 4c, h, w)
        gate = torch.sigmoid(self.fuse(branches))  # (n, c, h, w)
        return x + x * gate


class Bottleneck(nn.Module):
    """Residual: 1x1 conv to 64, BN, ReLU, gate, BN, ReLU, 1x1 conv back, BN, + input, ReLU."""

    def __init__(self, channels: int, dilations: tuple[int, ...], width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            MultiDilatedGate(width, dilations), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, channels, 1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.net(x))


class Encoder(nn.Module):
    """(n, n_inputs) flat input, its first 28 * 28 values the image -> (n, latent_dim) latent (a 32x32 image takes the
    same path: 16, 8, 3)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.side = config.image_side
        d = config.dilations
        self.stem = nn.Sequential(
            nn.Conv2d(1, 32, 5, stride=2, padding=2, bias=False),  # 28 -> 14
            SqueezeAttention(32), nn.BatchNorm2d(32), nn.ReLU(),
        )
        self.stage1 = nn.Sequential(Bottleneck(32, d), nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.ReLU())  # 14 -> 7
        self.stage2 = nn.Sequential(Bottleneck(64, d), nn.Conv2d(64, 128, 3, stride=2), nn.ReLU())  # 7 -> 3
        self.stage3 = Bottleneck(128, d)
        self.to_latent = nn.Linear(128 * 3 * 3, config.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :self.side**2].reshape(-1, 1, self.side, self.side)
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))  # (n, 128, 3, 3)
        return self.to_latent(x.flatten(1))  # (n, latent_dim)


class Decoder(nn.Module):
    """(n, latent_dim) -> (n, side * side) reconstruction of the log-normalized panel."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.from_latent = nn.Linear(config.latent_dim, 128 * 3 * 3)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 3, stride=2, bias=False), nn.ReLU(),  # 3 -> 7
            nn.ConvTranspose2d(64, 32, 5, stride=2, padding=1, bias=False), nn.ReLU(),  # 7 -> 15
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=(32 - config.image_side) // 2, bias=False),  # 15 -> 28 or 32
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.from_latent(latent)).view(-1, 128, 3, 3)
        return self.net(x).flatten(1)  # (n, side * side)


LOG_MEAN_MIN, LOG_MEAN_MAX = math.log(1e-5), math.log(1e6)


class NBHead(nn.Module):
    """Negative-binomial mean and dispersion per panel gene from the reconstruction; zero-inflated, also the logit of
    each gene's dropout probability (ZINB, as DCA / scDeepCluster)."""

    def __init__(self, n_genes: int, zero_inflated: bool = False):
        super().__init__()
        self.mean = nn.Linear(n_genes, n_genes)
        self.dispersion = nn.Linear(n_genes, n_genes)
        self.dropout = nn.Linear(n_genes, n_genes) if zero_inflated else None

    def forward(self, recon: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # clamp before exp: exp overflowing to inf gives a NaN gradient (0 * inf) that clamping after cannot stop
        nb_mean = torch.exp(torch.clamp(self.mean(recon), LOG_MEAN_MIN, LOG_MEAN_MAX))  # 1e-5 .. 1e6
        nb_dispersion = torch.clamp(F.softplus(self.dispersion(recon)), 1e-4, 1e4)
        return nb_mean, nb_dispersion

    def nll(self, recon: torch.Tensor, counts: torch.Tensor, size_factors: torch.Tensor) -> torch.Tensor:
        """Per-cell mean NLL of the raw counts of the first counts.shape[1] panel genes, the mean scaled to each cell's
        depth by its size factor; (n,)."""
        n_genes = counts.shape[1]
        nb_mean, nb_dispersion = self(recon)
        mu, theta = nb_mean[:, :n_genes] * size_factors[:, None], nb_dispersion[:, :n_genes]
        if self.dropout is None:
            return nb_nll(counts, mu, theta).mean(dim=1)
        return zinb_nll(counts, mu, theta, self.dropout(recon)[:, :n_genes]).mean(dim=1)


class DenseAutoencoder(nn.Module):
    """scDeepCluster's branch: the whole flat input -> 256 -> 64 -> latent -> 64 -> 256 -> a ZINB of the panel's raw
    counts (mean, dispersion, dropout per gene)."""

    def __init__(self, config: ModelConfig, widths: tuple[int, int] = (256, 64)):
        super().__init__()
        wide, narrow = widths
        self.encoder = nn.Sequential(nn.Linear(config.n_inputs, wide), nn.ReLU(), nn.Linear(wide, narrow), nn.ReLU(),
                                     nn.Linear(narrow, config.dense_latent_dim))
        self.decoder = nn.Sequential(nn.Linear(config.dense_latent_dim, narrow), nn.ReLU(), nn.Linear(narrow, wide),
                                     nn.ReLU())
        self.mean, self.dispersion, self.dropout = (nn.Linear(wide, config.dense_genes) for _ in range(3))

    def nll(self, x: torch.Tensor, counts: torch.Tensor, size_factors: torch.Tensor) -> torch.Tensor:
        """Per-cell ZINB NLL of the panel's raw counts, summed over genes (scDeepCluster's loss); (n,)."""
        return self.nll_of_latent(self.encoder(x), counts, size_factors)

    def nll_of_latent(self, latent: torch.Tensor, counts: torch.Tensor, size_factors: torch.Tensor) -> torch.Tensor:
        """nll() from the latent already encoded: one encoding serves it and the contrastive term; (n,)."""
        hidden = self.decoder(latent)
        mu = torch.exp(torch.clamp(self.mean(hidden), LOG_MEAN_MIN, LOG_MEAN_MAX)) * size_factors[:, None]
        theta = torch.clamp(F.softplus(self.dispersion(hidden)), 1e-4, 1e4)
        return zinb_nll(counts, mu, theta, self.dropout(hidden)).sum(dim=1)


class DenseEncoders(nn.Module):
    """The dense members' encoders side by side, each latent at unit length: distances in it average the members'
    (a consensus over their seeds)."""

    def __init__(self, members: nn.ModuleList):
        super().__init__()
        self.members = nn.ModuleList(member.encoder for member in members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.normalize(encoder(x), dim=1) for encoder in self.members], dim=1)


class JointEncoder(nn.Module):
    """The latent the clusters live in: the image encoder's, and beside it the dense members' (DenseEncoders), each
    block scaled by the factor fixed on the training cells (no dense branch: the image latent as it is)."""

    def __init__(self, image: Encoder, dense: DenseEncoders | None, block_scales: torch.Tensor | None):
        super().__init__()
        self.image, self.dense = image, dense
        self.block_scales = block_scales

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.join(self.image(x), x)

    def join(self, image_latent: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The joint latent from the image latent already computed for `x`."""
        return image_latent if self.dense is None else self.combine(image_latent, self.dense(x))

    def combine(self, image_latent: torch.Tensor, dense_latent: torch.Tensor) -> torch.Tensor:
        """The joint latent from both blocks already computed, each scaled."""
        return torch.cat([image_latent * self.block_scales[0], dense_latent * self.block_scales[1]], dim=1)


class ClusterHead(nn.Module):
    """Cellnet: latent -> soft cluster assignment (n, n_clusters)."""

    def __init__(self, config: ModelConfig, width: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.embedding_dim, width), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Linear(width, config.n_clusters),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(latent), dim=1)


class ScSMD(nn.Module):
    """Encoder, decoder with NB heads, the Cellnet cluster head, and the optional dense members beside them."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n_pixels = config.image_side**2
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.nb_head = NBHead(n_pixels, zero_inflated=config.likelihood == "zinb")
        self.cluster_head = ClusterHead(config) if config.n_clusters else None  # K unknown: built once estimated
        self.apply(self._init_weights)
        self.dense = nn.ModuleList(DenseAutoencoder(config) for _ in range(config.dense_members)) \
            if config.dense_genes else None  # PyTorch's default init, as scDeepCluster
        if self.dense is not None:
            self.register_buffer("block_scales", torch.ones(2))

    def add_cluster_head(self, n_clusters: int) -> None:
        """The Cellnet head for an estimated K, on the model's device; the config then records that K."""
        self.config = dataclasses.replace(self.config, n_clusters=n_clusters)
        self.cluster_head = ClusterHead(self.config).to(next(self.parameters()).device)
        self.cluster_head.apply(self._init_weights)

    @property
    def embedder(self) -> JointEncoder:
        """The module behind the clusters' latent (what is exported), sharing this model's weights."""
        if self.dense is None:
            return JointEncoder(self.encoder, None, None)
        return JointEncoder(self.encoder, DenseEncoders(self.dense), self.block_scales)

    @torch.no_grad()
    def fix_block_scales(self, image_latent: torch.Tensor, dense_latent: torch.Tensor) -> None:
        """Scale each latent block (the dense one as DenseEncoders gives it) to total sd 1 over the training cells, the
        dense one then to `dense_weight`: the two weigh as configured whatever their raw spread."""
        total_sd = [block.var(dim=0, unbiased=False).sum().sqrt() for block in (image_latent, dense_latent)]
        self.block_scales.copy_(torch.stack([1 / total_sd[0], self.config.dense_weight / total_sd[1]]))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """Xavier-uniform conv and linear weights, zero biases."""
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """latent, reconstruction (n, side * side), NB mean and NB dispersion (n, side * side)."""
        latent = self.encoder(x)
        recon = self.decoder(latent)
        nb_mean, nb_dispersion = self.nb_head(recon)
        return latent, recon, nb_mean, nb_dispersion
