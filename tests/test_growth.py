"""The growth schedule of progressive GANs: phases, data per resolution, real-image fade, resume mid-fade."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import tiny_config
from steadygan.config import from_dict, load_config
from steadygan.data.cache import box_downsampled
from steadygan.errors import ConfigError
from steadygan.generate import load_generator, training_animation
from steadygan.growth import growth_segments, phase_at
from steadygan.sampling import generate, sample_latents
from steadygan.train import Trainer, load_checkpoint
from steadygan.validation import validate


def growing(out_dir, **overrides):
    """Digits at 16x16: 4x4 for 4 steps, then 8x8 and 16x16 each faded in over 8 steps, stabilized over 4."""
    values = {"growth.fade_images": 64, "growth.stabilize_images": 32, "growth.batch_sizes": "{4: 8, 8: 8, 16: 4}",
              "optim.n_dis": 1, "train.steps": 34, "train.sample_every": 100, "train.checkpoint_every": 100}
    values.update(overrides)
    return tiny_config(out_dir, "pggan", **values)


def test_paper_recipe_schedule():
    config = load_config("pggan")
    segments = growth_segments(config.growth, 32, config.optim.batch_size)
    assert [(s.resolution, s.fading, s.batch_size, s.images) for s in segments] == [
        (4, False, 128, 800_000), (8, True, 128, 800_000), (8, False, 128, 800_000), (16, True, 128, 800_000),
        (16, False, 128, 800_000), (32, True, 64, 800_000), (32, False, 64, 800_000)]
    assert [s.start for s in segments] == [0, 6250, 12500, 18750, 25000, 31250, 43750]
    assert config.train.steps == 43750 + 12500  # the recipe ends with a full stabilization at 32x32
    assert (config.loss.name, config.regularize.gradient_penalty, config.regularize.drift, config.optim.n_dis) == (
        "wasserstein", 10.0, 0.001, 1)
    assert (config.optim.g_lr, config.optim.g_betas, config.train.ema_decay) == (1e-3, (0.0, 0.99), 0.999)


def test_alpha_rises_linearly_with_images_then_holds():
    config = growing("unused")
    segments = growth_segments(config.growth, 16, 8)
    fade_16 = next(s for s in segments if s.resolution == 16 and s.fading)
    assert (fade_16.batch_size, fade_16.steps) == (4, 16)
    alphas = [phase_at(segments, fade_16.start + k).alpha for k in range(fade_16.steps)]
    assert alphas == pytest.approx([k * 4 / 64 for k in range(16)])
    assert phase_at(segments, fade_16.start).starts_depth
    assert not phase_at(segments, fade_16.start + 1).starts_depth
    after = phase_at(segments, fade_16.start + fade_16.steps)
    assert (after.resolution, after.alpha, after.fading) == (16, 1.0, False)
    assert phase_at(segments, 10_000).resolution == 16  # the last phase lasts to the end


def test_box_downsampling_is_rounded_average_pooling():
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 16, 16), dtype=np.uint8)
    expected = F.avg_pool2d(torch.from_numpy(images).double(), 4).round().to(torch.uint8).numpy()
    assert np.array_equal(box_downsampled(images, 4, chunk=2), expected)


def test_data_served_at_each_phase_resolution_downsampled_once(tmp_path, monkeypatch):
    import steadygan.data.datasets as datasets

    calls = []
    original = datasets.box_downsampled
    monkeypatch.setattr(datasets, "box_downsampled", lambda images, res: calls.append(res) or original(images, res))
    trainer = Trainer(growing(tmp_path), progress=False, tensorboard=False)
    seen = []
    trainer.callbacks.append(lambda t: seen.append((t.stream.dataset.shape()[-1], t.stream.batch_size,
                                                    t.G.depth, t.G.alpha)))
    trainer.fit()
    assert calls == [4, 8]  # once per lower resolution; 16x16 is the cache itself
    assert [s[:2] for s in seen[:4]] == [(4, 8)] * 4
    assert [s[:2] for s in seen[4:16]] == [(8, 8)] * 12
    assert [s[:2] for s in seen[16:]] == [(16, 4)] * 18
    assert [s[3] for s in seen[4:12]] == pytest.approx([k / 8 for k in range(8)])
    real, _ = trainer.stream.next()
    assert real.shape == (4, 1, 16, 16)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["resolution"] == 16 and records[-1]["kimg"] == (4 * 8 + 12 * 8 + 18 * 4) / 1000


def test_real_images_fade_like_the_fakes(tmp_path):
    """At alpha 0 of a fade-in, D on the blended reals equals the previous D on the reals pooled."""
    trainer = Trainer(growing(tmp_path, **{"train.steps": 4}), progress=False, tensorboard=False)
    trainer.fit()
    trainer.schedule.begin_step(trainer.step)  # step 4: the 8x8 fade-in starts
    assert (trainer.D.depth, trainer.D.alpha) == (1, 0.0)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    blended = trainer.schedule.real(x)
    assert torch.equal(F.avg_pool2d(blended, 2), F.avg_pool2d(x, 2))
    torch.testing.assert_close(trainer.D(blended), trainer.D(F.avg_pool2d(x, 2), depth=0), rtol=0, atol=1e-6)


@pytest.mark.parametrize("stop", [8, 12, 20])  # mid-fade at 8x8, the first step of the 16x16 fade, mid-fade 16x16
def test_resume_anywhere_reproduces_the_uninterrupted_run(tmp_path, stop):
    straight = Trainer(growing(tmp_path / "straight"), progress=False, tensorboard=False)
    straight.fit()

    def stop_at(trainer):
        if trainer.step == stop:
            trainer.request_stop()

    Trainer(growing(tmp_path / "resumed"), progress=False, tensorboard=False, callbacks=[stop_at]).fit()
    torch.manual_seed(999)
    resumed = Trainer.resume(tmp_path / "resumed", progress=False, tensorboard=False)
    assert resumed.step == stop
    resumed.fit()
    expected, _ = straight.state.tensors_and_meta()
    actual, _ = resumed.state.tensors_and_meta()
    assert set(actual) == set(expected)
    assert [name for name in expected if not torch.equal(actual[name], expected[name])] == []


def test_optimizer_moments_restart_with_each_new_resolution(tmp_path):
    trainer = Trainer(growing(tmp_path, **{"train.steps": 4}), progress=False, tensorboard=False)
    trainer.fit()
    assert len(trainer.opt_G.state) > 0
    trainer.schedule.begin_step(trainer.step)
    assert len(trainer.opt_G.state) == 0 and len(trainer.opt_D.state) == 0
    kept = Trainer(growing(tmp_path / "kept", **{"train.steps": 4, "growth.reset_optimizer": "false"}),
                   progress=False, tensorboard=False)
    kept.fit()
    kept.schedule.begin_step(kept.step)
    assert len(kept.opt_G.state) > 0


def test_checkpoint_mid_growth_samples_at_its_phase(tmp_path):
    trainer = Trainer(growing(tmp_path, **{"train.steps": 10}), progress=False, tensorboard=False)
    trainer.fit()
    _, meta, _ = load_checkpoint(tmp_path)
    assert from_dict(meta["config"]).growth.batch_sizes == {4: 8, 8: 8, 16: 4}  # integer keys survive JSON
    loaded = load_generator(tmp_path)
    assert (loaded.generator.depth, loaded.generator.alpha) == (1, 0.625)  # step 9 of the 8x8 fade
    images, _ = loaded.sample(3, seed=5)
    assert images.shape == (3, 1, 8, 8)
    z = sample_latents(3, 16, torch.Generator().manual_seed(5))
    assert torch.equal(images, generate(trainer.ema.model, z))


def test_sample_grids_at_data_resolution_and_growth_video(tmp_path):
    trainer = Trainer(growing(tmp_path), progress=False, tensorboard=False)
    trainer.fit()
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    # step 0, the end of every phase, and the last step
    assert names == [f"step-{s:06d}.png" for s in (0, 4, 12, 16, 32, 34)]
    from PIL import Image

    sizes = {Image.open(tmp_path / "samples" / n).size for n in names}
    assert len(sizes) == 1
    gif = training_animation(tmp_path)
    with Image.open(gif) as animation:
        assert animation.n_frames == len(names)
        assert animation.size[1] == next(iter(sizes))[1] + 14  # the caption strip


def test_growth_settings_are_checked():
    with pytest.raises(ConfigError, match="growth section applies to progressive architectures"):
        validate(load_config("dcgan", ["growth.fade_images=10"]))
    with pytest.raises(ConfigError, match=r"'growth.start_resolution' is 6; it must be a power of two from 4"):
        validate(tiny_config("x", "pggan", **{"growth.start_resolution": 6}))
    with pytest.raises(ConfigError, match=r"growth.start_resolution=32 must be a power of two from 4 up to data.res"):
        validate(tiny_config("x", "pggan", **{"growth.start_resolution": 32}))
    with pytest.raises(ConfigError, match=r"growth.batch_sizes maps resolutions"):
        validate(tiny_config("x", "pggan", **{"growth.batch_sizes": "{6: 8}"}))
    with pytest.raises(ConfigError, match=r"'growth.batch_sizes' is \{8: 0\}; each number must be in \[1, 65536\]"):
        validate(tiny_config("x", "pggan", **{"growth.batch_sizes": "{8: 0}"}))
    with pytest.raises(ConfigError, match="expects a mapping"):
        tiny_config("x", "pggan", **{"growth.batch_sizes": "[1, 2]"})
    with pytest.raises(ConfigError, match=r"model.arch=pggan does not take model.minibatch_stddev"):
        Trainer(tiny_config("x", "pggan", **{"model.minibatch_stddev": "true"}), progress=False, tensorboard=False)
