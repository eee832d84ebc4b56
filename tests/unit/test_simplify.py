import torch

from scsmd.config import ModelConfig
from scsmd.train.model import ScSMD
from scsmd.train.simplify import simplify_encoder


def test_centre_tap_convs_become_exact_1x1_convs():
    torch.manual_seed(0)
    model = ScSMD(ModelConfig(n_clusters=3)).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    simplified, n_pointwise = simplify_encoder(model.encoder)
    assert n_pointwise == 4  # dilation 8 at 7x7; 4, 6 and 8 at 3x3
    dilated = [m for m in simplified.modules() if isinstance(m, torch.nn.Conv2d) and m.dilation != (1, 1)]
    assert len(dilated) == 12 - 4
    x = torch.rand(33, 784)
    with torch.no_grad():
        torch.testing.assert_close(simplified(x), model.encoder(x), atol=1e-5, rtol=0)
    assert any(m.dilation != (1, 1) for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d))  # original kept
