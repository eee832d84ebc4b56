import numpy as np
import torch
from scipy.stats import nbinom

from scsmd.infer.assign import assign_clusters
from scsmd.train.losses import (fuzzy_loss, fuzzy_memberships, kl_to_target, nb_nll, neighbor_contrast, pair_targets,
                                 pairwise_loss, sharpened_target, student_t_memberships, zinb_nll)


def test_nb_nll_matches_scipy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, (5, 7)).astype(np.float64)
    mu, theta = rng.uniform(0.1, 30, (5, 7)), rng.uniform(0.2, 10, (5, 7))
    ours = nb_nll(*(torch.tensor(a) for a in (x, mu, theta)), eps=0.0).numpy()
    np.testing.assert_allclose(ours, -nbinom.logpmf(x, theta, theta / (theta + mu)), rtol=1e-8)


def test_zinb_nll_matches_the_mixture_and_reduces_to_nb():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, (6, 8)).astype(np.float64)  # many zeros
    mu, theta, logit = rng.uniform(0.1, 10, (6, 8)), rng.uniform(0.2, 5, (6, 8)), rng.normal(0, 2, (6, 8))
    ours = zinb_nll(*(torch.tensor(a) for a in (x, mu, theta, logit)), eps=0.0).numpy()
    dropout = 1 / (1 + np.exp(-logit))
    pmf = nbinom.pmf(x, theta, theta / (theta + mu))
    np.testing.assert_allclose(ours, -np.log(np.where(x == 0, dropout, 0) + (1 - dropout) * pmf), rtol=1e-8)
    no_dropout = zinb_nll(*(torch.tensor(a) for a in (x, mu, theta, np.full_like(x, -40.0))), eps=0.0)
    torch.testing.assert_close(no_dropout, nb_nll(*(torch.tensor(a) for a in (x, mu, theta)), eps=0.0))


def test_zinb_nll_gradients_through_the_nonzero_counts_match_finite_differences():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.integers(0, 4, (5, 6)).astype(np.float64))  # zeros and counts mixed
    mu, theta, logit = (torch.tensor(rng.uniform(low, high, (5, 9)), requires_grad=True)
                        for low, high in ((0.1, 10), (0.2, 5), (-2, 2)))

    def summed(m: torch.Tensor, t: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return zinb_nll(x, m[:, :6], t[:, :6], d[:, :6]).sum()  # sliced, not contiguous, as the NB head passes them

    assert torch.autograd.gradcheck(summed, (mu, theta, logit))


def test_memberships_sum_to_one_and_match_direct_formula():
    latent, centroids, m = torch.randn(6, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64), 1.5
    probs = fuzzy_memberships(latent, centroids, m)
    torch.testing.assert_close(probs.sum(1), torch.ones(6, dtype=torch.float64))
    d = ((latent[:, None] - centroids[None]) ** 2).sum(-1)
    direct = d ** (-1 / (m - 1)) / (d ** (-1 / (m - 1))).sum(1, keepdim=True)
    torch.testing.assert_close(probs, direct)
    numpy_side = assign_clusters(latent.numpy(), centroids.numpy(), m)
    np.testing.assert_allclose(numpy_side.confidence, direct.max(1).values.numpy(), rtol=1e-5)


def test_dec_memberships_target_and_kl_follow_their_formulas():
    latent, centroids = torch.randn(8, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    q = student_t_memberships(latent, centroids)
    kernel = 1 / (1 + ((latent[:, None] - centroids[None]) ** 2).sum(-1))
    torch.testing.assert_close(q, kernel / kernel.sum(1, keepdim=True))
    p = sharpened_target(q)
    direct = q**2 / q.sum(0)
    torch.testing.assert_close(p, direct / direct.sum(1, keepdim=True))
    balanced = torch.tensor([[0.7, 0.3], [0.3, 0.7]], dtype=torch.float64)  # equal cluster sizes: plain sharpening
    assert torch.all(sharpened_target(balanced).max(1).values > 0.7)
    assert kl_to_target(q, q).abs() < 1e-12 and kl_to_target(p, q) > 0


def test_neighbor_contrast_is_infonce_over_both_views():
    latent, partner = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    views = torch.nn.functional.normalize(torch.cat([latent, partner]), dim=1)
    logits = views @ views.T / 0.2
    direct = [torch.logsumexp(torch.cat([logits[i, :i], logits[i, i + 1:]]), 0) - logits[i, (i + 5) % 10]
              for i in range(10)]
    torch.testing.assert_close(neighbor_contrast(latent, partner, 0.2), torch.stack(direct).mean())
    assert neighbor_contrast(latent, latent + 0.01, 0.2) < neighbor_contrast(latent, latent[torch.arange(5) - 1], 0.2)


def test_fuzzy_loss_is_the_per_cluster_sum():
    recon, nb, latent, centroids = torch.rand(5), torch.rand(5), torch.randn(5, 2), torch.randn(3, 2)
    weights = fuzzy_memberships(latent, centroids, 1.5) ** 1.5
    loss = fuzzy_loss(recon, nb, latent, centroids, weights, 0.2, 0.1)
    per_cluster = [(weights[:, i] * (recon + 0.1 * nb + 0.2 * ((latent - centroids[i]) ** 2).sum(1))).mean()
                   for i in range(3)]
    torch.testing.assert_close(loss, sum(per_cluster))


def test_pairwise_loss_rewards_agreeing_pairs():
    targets = pair_targets(torch.tensor([[0.995, 0.005], [0.995, 0.005], [0.005, 0.995]]))
    torch.testing.assert_close(targets, torch.tensor([[1.0, 1, 0], [1, 1, 0], [0, 0, 1]]))
    good = torch.tensor([[1.0, 0], [1, 0], [0, 1]])
    bad = torch.tensor([[1.0, 0], [0, 1], [1, 0]])
    assert pairwise_loss(good, targets, 0.8, 0.2, 1.0) == 0
    assert pairwise_loss(bad, targets, 0.8, 0.2, 1.0) == 4
