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
    ("optimizer.lr=1",
     "unknown config section 'optimizer'; valid sections: data, model, loss, optim, regularize, growth, doctor, train"),
    ("train.steps=many", "config key 'train.steps' expects an integer, got 'many'"),
    ("train.steps=1.5", "config key 'train.steps' expects an integer, got '1.5'"),
    ("data.hflip=3", "config key 'data.hflip' expects true or false, got '3'"),
    ("optim.g_lr=fast", "config key 'optim.g_lr' expects a number, got 'fast'"),
    ("optim.g_lr=nan", "config key 'optim.g_lr' is nan; give a finite number"),
    ("optim.d_lr=-inf", "config key 'optim.d_lr' is -inf; give a finite number"),
    ("optim.g_betas=[0.5]", "config key 'optim.g_betas' expects a list of 2 numbers"),
    ("growth.batch_sizes={4: }", "config key 'growth.batch_sizes' expects a mapping such as {32: 64, 64: 32}"),
    ("steps=5", "is not of the form section.key=value"),
])
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        apply_overrides(Config(), [override])


def test_unknown_recipe_lists_the_recipes(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown recipe 'sngna'; choose one of: began, biggan, biggan-uncond, "
                                          r"dcgan, lsgan, pggan, r3gan, r3gan-small, sagan, sngan, sngan-projection, "
                                          r"stacked, stylegan2, stylegan2-ada, stylegan2-small, toy2d, toy2d-stable, "
                                          r"ttur, unrolled, wgan, wgan-gp"):
        load_config("sngna")
    with pytest.raises(ConfigError, match=r"recipe file .* does not exist"):
        load_config(str(tmp_path / "mine.yaml"))


def test_recipe_file_with_unknown_key(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("model:\n  arch: dcgan\n  widht: 32\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'model.widht'"):
        load_config(str(recipe))
    recipe.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(str(recipe))


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("optim:\n  g_lr: 2e-4\n")  # YAML 1.1 reads this as a string
    assert load_config(str(recipe)).optim.g_lr == 2e-4


def test_override_values_are_read_by_the_type_of_their_key():
    assert parse_override("data.source=photos #1") == ("data", "source", "photos #1")
    config = apply_overrides(Config(), [
        "data.source=photos #1", "train.out_dir= x #2 ", "data.split=2020", "data.cache_dir=~/a: b",
        "train.eval_metrics=fid,kid",
        "model.conditional=false", "data.hflip=yes", "optim.g_betas=[0,0.9]", "optim.d_betas=0.5, 0.99",
        "growth.batch_sizes={4: 16, 8: 8}", "optim.g_lr=2e-4", "train.steps=1_000"])
    assert (config.data.source, config.train.out_dir, config.data.split) == ("photos #1", " x #2 ", "2020")
    assert (config.data.cache_dir, config.train.eval_metrics) == ("~/a: b", "fid,kid")
    assert config.model.conditional is False and config.data.hflip is True
    assert config.optim.g_betas == (0.0, 0.9) and config.optim.d_betas == (0.5, 0.99)
    assert config.growth.batch_sizes == {4: 16, 8: 8}
    assert config.optim.g_lr == 2e-4 and config.train.steps == 1000


@pytest.mark.parametrize("override, message", [
    ("optim.g_lr=0", "config key 'optim.g_lr' is 0.0; it must be positive"),
    ("optim.d_betas=[0.5, 1]", "config key 'optim.d_betas' is (0.5, 1.0); each number must be in [0, 1)"),
    ("train.ema_decay=1", "config key 'train.ema_decay' is 1.0; it must be in [0, 1)"),
    ("model.z_dim=0", "config key 'model.z_dim' is 0; it must be in [1, 16384]"),
    ("data.resolution=24", "config key 'data.resolution' is 24; it must be a power of two from 4 to 1024"),
    ("data.channels=2", "config key 'data.channels' is 2; choose one of: 0, 1, 3"),
    ("train.seed=-1", "config key 'train.seed' is -1; it must be in [0, 2147483646]"),
    ("train.steps=10000000000", "config key 'train.steps' is 10000000000; it must be in [1, 1000000000]"),
    ("doctor.rollback_lr_factor=0", "config key 'doctor.rollback_lr_factor' is 0.0; it must be in (0, 1)"),
    ("regularize.r1=-1", "config key 'regularize.r1' is -1.0; it must be at least 0"),
    ("growth.batch_sizes={8: 0}", "config key 'growth.batch_sizes' is {8: 0}; each number must be in [1, 65536]"),
])
def test_every_number_has_a_range(override, message):
    from steadygan.validation import validate

    with pytest.raises(ConfigError) as error:
        validate(load_config("pggan" if "growth" in override else "dcgan", [override]))
    assert str(error.value) == message


def test_a_recipe_that_is_not_utf8_is_one_error(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_bytes(b"model:\n  arch: dcgan\xff\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(str(recipe))


def test_a_recipe_extends_another_and_merges_its_sections(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: stylegan2-ada\nregularize:\n  ada_target: 0.5\nby_resolution:\n"
                    "  64: {optim: {batch_size: 12}}\n")
    config = load_config(str(mine), ["data.resolution=64"])
    assert (config.regularize.ada, config.regularize.ada_target) == ("adaptive", 0.5)  # kept, and changed
    assert config.model.arch == "stylegan2" and config.regularize.style_mixing == 0.9  # from stylegan2
    assert config.optim.batch_size == 12 and config.regularize.r1 == 0.0256  # its row over stylegan2's row
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")  # beside it
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="extend each other in a circle"):
        load_config(str(tmp_path / "a.yaml"))
    (tmp_path / "bad.yaml").write_text("by_resolution: 32\n")
    with pytest.raises(ConfigError, match="by_resolution must map resolutions"):
        load_config(str(tmp_path / "bad.yaml"))


def test_the_stacked_recipe_trains_dcgan_with_the_regularized_relativistic_loss_and_an_ema(tmp_path):
    from steadygan.train import Trainer

    config = load_config("stacked", ["train.steps=2", f"train.out_dir={tmp_path}", "optim.batch_size=8"])
    assert (config.loss.name, config.regularize.r1, config.regularize.r2) == ("rpgan", 0.1, 0.1)
    assert (config.model.arch, config.train.ema_decay, config.train.ema_standing_stats) == ("dcgan", 0.999, 8)
    trainer = Trainer(config, progress=False, tensorboard=False)
    assert trainer.dataset.num_classes == 1000  # three digits as RGB: the 1,000 modes the classifier counts
    result = trainer.fit()
    assert (result.step, result.completed) == (2, True)
