import pytest

from steadygan.config import Config, apply_overrides, from_dict, load_config, parse_override, recipe_names
from steadygan.errors import ConfigError


def test_recipes_load_with_published_hyperparameters():
    assert {"dcgan", "sngan", "sngan-projection", "toy2d"} <= set(recipe_names())
    sngan = load_config("sngan")
    assert (sngan.loss.name, sngan.optim.n_dis) == ("hinge", 5)
    assert (sngan.optim.g_lr, sngan.optim.d_lr) == (2e-4, 2e-4)
    assert sngan.optim.g_betas == sngan.optim.d_betas == (0.0, 0.9)
    assert sngan.model.spectral_norm
    projection = load_config("sngan-projection")
    assert projection.model.conditional and projection.model.arch == "sngan_resnet"
    toy = load_config("toy2d")
    assert (toy.model.arch, toy.optim.g_lr, toy.optim.d_lr, toy.optim.batch_size) == ("mlp", 1e-3, 1e-4, 512)
    assert (toy.model.z_dim, toy.model.g_width, toy.model.hidden_layers, toy.model.activation) == (256, 128, 2, "tanh")


def test_overrides_are_typed():
    config = load_config("sngan", ["optim.d_lr=4e-4", "optim.g_betas=[0.5, 0.99]", "data.hflip=true",
                                   "train.steps=7", "data.source=my images/folder"])
    assert config.optim.d_lr == 4e-4 and isinstance(config.optim.d_lr, float)
    assert config.optim.g_betas == (0.5, 0.99)
    assert config.data.hflip is True
    assert config.train.steps == 7
    assert config.data.source == "my images/folder"


def test_integer_where_float_expected_is_accepted():
    assert apply_overrides(Config(), ["optim.g_lr=1"]).optim.g_lr == 1.0


def test_round_trip_through_dict():
    config = load_config("sngan-projection", ["train.seed=3"])
    assert from_dict(config.to_dict()) == config


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=1", "unknown config key 'optim.lrr'; valid keys in 'optim': batch_size, g_lr, d_lr"),
    ("optimizer.lr=1", "unknown config section 'optimizer'; valid sections: data, model, loss, optim, regularize, growth, doctor, train"),
    ("train.steps=many", "config key 'train.steps' expects int, got 'many'"),
    ("train.steps=1.5", "config key 'train.steps' expects int, got 1.5"),
    ("data.hflip=3", "config key 'data.hflip' expects bool, got 3"),
    ("optim.g_lr=fast", "config key 'optim.g_lr' expects float, got 'fast'"),
    ("optim.g_betas=[0.5]", "config key 'optim.g_betas' expects a list of 2 numbers"),
    ("steps=5", "is not of the form section.key=value"),
])
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        apply_overrides(Config(), [override])


def test_unknown_recipe_lists_the_recipes(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe 'sngna'; choose one of: began, dcgan, lsgan, pggan, sngan, sngan-projection, toy2d, toy2d-stable, ttur, unrolled, wgan, wgan-gp"):
        load_config("sngna")
    with pytest.raises(ConfigError, match="recipe file .* does not exist"):
        load_config(str(tmp_path / "mine.yaml"))


def test_recipe_file_with_unknown_key(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("model:\n  arch: dcgan\n  widht: 32\n")
    with pytest.raises(ConfigError, match="unknown config key 'model.widht'"):
        load_config(str(recipe))
    recipe.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(str(recipe))


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("optim:\n  g_lr: 2e-4\n")  # YAML 1.1 reads this as a string
    assert load_config(str(recipe)).optim.g_lr == 2e-4


def test_parse_override_reads_yaml_values():
    assert parse_override("model.conditional=false") == ("model", "conditional", False)
    assert parse_override("optim.g_betas=[0,0.9]") == ("optim", "g_betas", [0, 0.9])
