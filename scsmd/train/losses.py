"""Pure tensor losses of the three training stages; mu and theta are allowed names here."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def nb_nll(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Elementwise negative log-likelihood of counts x under NB(mean mu, dispersion theta); all (n, g)."""
    log_theta_mu = torch.log(theta + mu + eps)
    log_pmf = (
        torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1)
        + theta * (torch.log(theta + eps) - log_theta_mu)
        + x * (torch.log(mu + eps) - log_theta_mu)
    )
    return -log_pmf


def zinb_nll(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, dropout_logit: torch.Tensor,
             eps: float = 1e-8) -> torch.Tensor:
    """Elementwise NLL of counts x under a zero-inflated NB: a zero is a dropout (probability sigmoid(logit)) or an NB
    zero; all (n, g). On a CPU the NB's count terms are evaluated at the nonzero counts alone (1-10% of a panel's
    entries; the same values, a dense member's pbmc epoch 1.10 -> 0.91 s); on CUDA at every entry, as finding the
    nonzero ones would wait on the GPU and no CUDA graph could capture the step."""
    not_dropout_nll = F.softplus(dropout_logit)  # -log(1 - sigmoid(logit))
    log_nb_zero = theta * (torch.log(theta + eps) - torch.log(theta + mu + eps))
    zero = -torch.logaddexp(-F.softplus(-dropout_logit), -not_dropout_nll + log_nb_zero)
    if x.is_cuda:
        return torch.where(x < 0.5, zero, not_dropout_nll + nb_nll(x, mu, theta, eps))
    counted = (x >= 0.5).flatten().nonzero().squeeze(1)  # flat indices, found once for the four gathers

    def at_counts(values: torch.Tensor) -> torch.Tensor:
        return values.reshape(-1).index_select(0, counted)

    count_nll = at_counts(not_dropout_nll) + nb_nll(at_counts(x), at_counts(mu), at_counts(theta), eps)
    return zero.flatten().scatter(0, counted, count_nll).view_as(zero)


def squared_distances(latent: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """||latent_j - centroid_i||^2 as (n_cells, n_clusters)."""
    return torch.cdist(latent, centroids).pow(2)


def fuzzy_memberships(latent: torch.Tensor, centroids: torch.Tensor, fuzzifier: float) -> torch.Tensor:
    """Fuzzy c-means memberships p_ij proportional to d_ij^(-1/(m-1)), rows summing to one; (n, k)."""
    log_d = torch.log(squared_distances(latent, centroids) + 1e-12)
    return torch.softmax(-log_d / (fuzzifier - 1), dim=1)


def student_t_memberships(latent: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """DEC's soft assignment q_ij proportional to 1 / (1 + ||z_i - mu_j||^2) (Student's t, one degree of freedom),
    rows summing to one; (n, k)."""
    kernel = 1.0 / (1.0 + squared_distances(latent, centroids))
    return kernel / kernel.sum(dim=1, keepdim=True)


def sharpened_target(memberships: torch.Tensor) -> torch.Tensor:
    """DEC's target p_ij proportional to q_ij^2 / f_j (f_j: cluster j's soft size): confident assignments weigh more,
    large clusters less; rows summing to one, (n, k)."""
    target = memberships.pow(2) / memberships.sum(dim=0)
    return target / target.sum(dim=1, keepdim=True)


def kl_to_target(target: torch.Tensor, memberships: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KL(P || Q) of each cell's target over its memberships, mean over cells."""
    return (target * (torch.log(target + eps) - torch.log(memberships + eps))).sum(dim=1).mean()


def neighbor_contrast(latent: torch.Tensor, partner_latent: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE (SimCLR's NT-Xent) of each cell with its partner, every other cell of the batch a negative: cells and
    their partners (a neighbour's noisy view) move together on the unit sphere, the rest apart; mean over 2n views."""
    views = F.normalize(torch.cat([latent, partner_latent]), dim=1)
    similarity = (views @ views.T / temperature).fill_diagonal_(float("-inf"))
    n = len(latent)
    partners = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(latent.device)
    return F.cross_entropy(similarity, partners)


def fuzzy_loss(recon_error: torch.Tensor, nb_error: torch.Tensor, latent: torch.Tensor, centroids: torch.Tensor,
               weights: torch.Tensor, centroid_weight: float, nb_weight: float) -> torch.Tensor:
    """The first module's per-cluster losses summed over clusters in one pass, mean over cells.

    recon_error, nb_error: (n,) per-cell errors; weights: (n, k) detached memberships ** m.
    """
    per_cluster = weights * (recon_error[:, None] + nb_weight * nb_error[:, None]
                             + centroid_weight * squared_distances(latent, centroids))
    return per_cluster.sum(dim=1).mean()


def pair_targets(probs: torch.Tensor, clip: float = 0.01) -> torch.Tensor:
    """Pairwise similarity S = p p^T of (detached) soft assignments, clipped to 0 / 1 near the ends; (n, n)."""
    probs = probs.detach()
    probs = torch.where(probs > 1 - clip, torch.ones_like(probs), probs)
    probs = torch.where(probs < clip, torch.zeros_like(probs), probs)
    return probs @ probs.T


def pairwise_loss(cluster_probs: torch.Tensor, targets: torch.Tensor, similar_above: float, dissimilar_below: float,
                  weight: float) -> torch.Tensor:
    """Cellnet loss: pull together pairs with S > zeta, push apart pairs with S < gamma."""
    same = cluster_probs @ cluster_probs.T  # (n, n)
    loss = (targets > similar_above).float() * (1 - same) + (targets < dissimilar_below).float() * same
    return weight * loss.sum()
