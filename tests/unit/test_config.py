import pytest

from scsmd.config import (EmbedConfig, ExportConfig, ModelConfig, PreprocessConfig, TrainConfig, from_dict,
                          image_side_for, model_preset, preprocess_preset, preset, to_dict)
from scsmd.errors import ScsmdError


@pytest.mark.parametrize("make", [
    lambda: PreprocessConfig(n_genes=1025),
    lambda: PreprocessConfig(n_genes=500),  # a dense branch's genes would fill the image's other 284 pixels
    lambda: PreprocessConfig(hvg_flavor="cell_ranger"),
    lambda: PreprocessConfig(scale_max=0),
    lambda: preprocess_preset("fastest"),
    lambda: ModelConfig(n_clusters=1),
    lambda: ModelConfig(dilations=()),
    lambda: TrainConfig(fuzzifier=1.0),
    lambda: TrainConfig(batch_size=1),
    lambda: TrainConfig(min_epoch_cells=-1),
    lambda: TrainConfig(min_epoch_batches=-1),
    lambda: TrainConfig(device="tpu"),
    lambda: TrainConfig(similar_above=0.1, dissimilar_below=0.2),
    lambda: TrainConfig(pretrain_schedule="step"),
    lambda: TrainConfig(dec_schedule="step"),
    lambda: TrainConfig(kmeans_starts=0),
    lambda: TrainConfig(kmeans_threads=0),
    lambda: TrainConfig(final_partition="ward"),
    lambda: TrainConfig(linkage_cells=1),
    lambda: TrainConfig(smoothing_neighbors=-1),
    lambda: preset("fastest"),
    lambda: ExportConfig(formats=("tflite",)),
    lambda: EmbedConfig(min_gene_overlap=1.5),
    lambda: EmbedConfig(n_threads=0),
])
def test_bad_values_are_user_errors(make):
    with pytest.raises(ScsmdError):
        make()


def test_round_trip_through_dict():
    config = ModelConfig(n_clusters=5, dilations=(1, 3))
    assert from_dict(ModelConfig, to_dict(config)) == config
    assert to_dict(config)["dilations"] == [1, 3]


def test_published_defaults():
    train, model, prep = preset("reference"), model_preset("reference"), preprocess_preset("reference")
    assert (prep.n_genes, model.latent_dim, train.batch_size, train.fuzzifier) == (784, 10, 100, 1.5)
    assert (train.fuzzy_lr, train.head_lr, train.similar_above, train.dissimilar_below) == (1e-6, 1e-3, 0.8, 0.2)
    assert (train.pretrain_epochs, train.fuzzy_epochs, train.cellnet_epochs) == (20, 20, 20)
    assert (train.pretrain_schedule, train.pretrain_nb_weight, train.smoothing_neighbors) == ("constant", 0.0, 0)
    assert (prep.hvg_flavor, prep.scale) == ("seurat", False)  # method.md: seurat genes of log data, unscaled


def test_presets_and_overrides():
    assert preset("default") == TrainConfig()
    tuned = preset("reference", seed=3, pretrain_epochs=None)
    assert tuned.seed == 3 and tuned.pretrain_epochs == 20
    assert preprocess_preset("default") == PreprocessConfig()
    assert preprocess_preset("reference", scale=True, hvg_flavor=None) == PreprocessConfig(hvg_flavor="seurat",
                                                                                           dense_genes=0)
    assert PreprocessConfig().dense_genes == 2000  # the default's dense branch
    assert model_preset("default") == ModelConfig() and ModelConfig().latent_dim == 20
    assert model_preset("reference", n_clusters=4, latent_dim=None) == ModelConfig(n_clusters=4, latent_dim=10,
                                                                                 likelihood="nb")


def test_an_epoch_floor_in_batches_scales_with_each_stages_batch_size():
    assert TrainConfig().epoch_floor(256) == 500  # the floor in cells alone
    floors = TrainConfig(min_epoch_batches=5)
    assert (floors.epoch_floor(100), floors.epoch_floor(256)) == (500, 1280)  # the image's, the dense stages'


def test_panel_size_chooses_the_image():
    assert image_side_for(784) == 28 and image_side_for(785) == 32 and image_side_for(10) == 28
    with pytest.raises(ScsmdError, match="between 1 and 1024"):
        PreprocessConfig(n_genes=1025)
    with pytest.raises(ScsmdError, match="28x28 or 32x32"):
        ModelConfig(image_side=30)
