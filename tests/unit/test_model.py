import torch

from scsmd.config import ModelConfig
from scsmd.train.model import (Bottleneck, ClusterHead, ConvBlock, Decoder, Encoder, MultiDilatedGate, NBHead, ScSMD,
                               SqueezeAttention)

CONFIG = ModelConfig(n_clusters=5)


def test_block_shapes():
    x = torch.randn(3, 32, 14, 14)
    assert ConvBlock(32)(x).shape == x.shape
    assert SqueezeAttention(32)(x).shape == x.shape
    assert MultiDilatedGate(64, (2, 4, 6, 8))(torch.randn(3, 64, 7, 7)).shape == (3, 64, 7, 7)
    assert Bottleneck(128, (2, 4, 6, 8))(torch.randn(3, 128, 3, 3)).shape == (3, 128, 3, 3)


def test_network_shapes():
    model = ScSMD(CONFIG).eval()
    latent, recon, nb_mean, nb_dispersion = model(torch.rand(4, 784))
    assert latent.shape == (4, 20) and recon.shape == nb_mean.shape == nb_dispersion.shape == (4, 784)
    assert Encoder(CONFIG)(torch.rand(2, 784)).shape == (2, 20)
    assert Decoder(CONFIG)(torch.rand(2, 20)).shape == (2, 784)
    probs = ClusterHead(CONFIG).eval()(latent)
    torch.testing.assert_close(probs.sum(1), torch.ones(4))
    mean, dispersion = NBHead(784)(recon)
    assert mean.min() >= 1e-5 and dispersion.min() >= 1e-4


def test_gate_and_latent_are_configurable():
    model = ScSMD(ModelConfig(n_clusters=3, latent_dim=16, dilations=(1, 2)))
    assert model.encoder(torch.rand(2, 784)).shape == (2, 16)
    assert len(model.encoder.stage3.net[3].branches) == 2


def test_encoder_size_and_xavier_init():
    model = ScSMD(ModelConfig(n_clusters=5, latent_dim=10))  # the paper's network
    assert 0.69e6 < sum(p.numel() for p in model.encoder.parameters()) < 0.71e6
    assert torch.all(model.encoder.to_latent.bias == 0)


def test_a_32x32_panel_takes_the_same_path():
    model = ScSMD(ModelConfig(n_clusters=3, image_side=32)).eval()
    latent, recon, nb_mean, _ = model(torch.rand(2, 1024))
    assert latent.shape == (2, 20) and recon.shape == nb_mean.shape == (2, 1024)
    assert sum(p.numel() for p in model.encoder.parameters()) == sum(p.numel() for p in ScSMD(CONFIG).encoder.parameters())


def test_nb_mean_saturates_without_nan_gradients():
    head = NBHead(4)
    torch.nn.init.ones_(head.mean.weight)
    recon = torch.full((2, 4), 100.0, requires_grad=True)  # mean logits ~400: exp overflows float32
    mean, _ = head(recon)
    mean.sum().backward()
    assert torch.all(mean <= 1e6 * (1 + 1e-6)) and torch.isfinite(recon.grad).all() and torch.isfinite(head.mean.weight.grad).all()


def test_zinb_adds_a_dropout_head_and_a_finite_likelihood():
    nb, zinb = ScSMD(ModelConfig(n_clusters=5, likelihood="nb")), ScSMD(CONFIG)  # ZINB: the default
    assert nb.nb_head.dropout is None and zinb.nb_head.dropout.out_features == 784
    recon, counts, size_factors = torch.randn(3, 784), torch.poisson(torch.ones(3, 700)), torch.ones(3)
    nll = zinb.nb_head.nll(recon, counts, size_factors)  # the first 700 panel genes, as a smaller panel pads
    assert nll.shape == (3,) and torch.isfinite(nll).all()
    assert not torch.allclose(nll, nb.nb_head.nll(recon, counts, size_factors))


def test_the_dense_members_read_the_whole_input_and_join_the_latent_at_their_weight():
    config = ModelConfig(n_clusters=4, image_side=28, dense_genes=1000, dense_latent_dim=8, dense_members=2,
                         dense_weight=0.5)
    model = ScSMD(config).eval()
    assert config.n_inputs == 1000 and config.embedding_dim == 20 + 2 * 8
    x = torch.randn(64, 1000)
    image, dense = model.encoder(x), model.embedder.dense(x)
    members = [torch.nn.functional.normalize(member.encoder(x), dim=1) for member in model.dense]
    torch.testing.assert_close(dense, torch.cat(members, dim=1))  # each member's latent at unit length, side by side
    assert not torch.allclose(members[0], members[1])  # each member its own init
    model.fix_block_scales(image, dense)
    joint = model.embedder(x)
    assert joint.shape == (64, 36) and model.cluster_head(joint).shape == (64, 4)
    total_sd = [joint[:, :20].var(0, unbiased=False).sum().sqrt(), joint[:, 20:].var(0, unbiased=False).sum().sqrt()]
    torch.testing.assert_close(torch.stack(total_sd), torch.tensor([1.0, 0.5]))
    moved = x.clone()
    moved[:, 784:] += 1.0  # the genes past the image reach the dense members only
    torch.testing.assert_close(model.encoder(moved), image)
    assert not torch.allclose(model.embedder.dense(moved), dense)
    nll = model.dense[0].nll(x, torch.poisson(torch.ones(64, 1000)), torch.ones(64))
    assert nll.shape == (64,) and torch.isfinite(nll).all()


def test_without_a_dense_branch_the_joint_latent_is_the_image_latent():
    model = ScSMD(CONFIG).eval()
    x = torch.randn(3, 784)
    assert model.dense is None and "block_scales" not in model.state_dict()
    torch.testing.assert_close(model.embedder(x), model.encoder(x))
