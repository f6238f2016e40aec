"""Evaluation end to end: extractors, stacked digits and their modes, checkpoints, folders, the CLI,
and evaluation during training with the best checkpoint kept."""

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import tiny_config
from steadygan import cli
from steadygan.config import DataConfig
from steadygan.data import build_dataset
from steadygan.data.sources import STACKED_COUNT, list_source
from steadygan.errors import CheckpointError, ConfigError
from steadygan.images import make_grid, save_image
from steadygan.metrics import (
    Evaluator,
    build_extractor,
    evaluate_checkpoint,
    evaluate_folders,
    extract,
    fid_from_stats,
    load_classifier,
    stacked_modes,
)
from steadygan.metrics.classifier import ImageClassifier, classifier_file, classify_accuracy, labelled_images
from steadygan.metrics.features import ChannelwiseClassifier, default_extractor
from steadygan.metrics.modes import triple_histogram
from steadygan.storage.checkpoint import load_checkpoint as load_tensors
from steadygan.train import Trainer, load_checkpoint


@pytest.fixture(scope="module")
def digits():
    return build_dataset(DataConfig(source="digits", resolution=16), progress=False)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits-run")
    config = tiny_config(out, recipe="dcgan", **{"train.steps": 2, "train.checkpoint_every": 2})
    return Trainer(config, progress=False, tensorboard=False).fit().out_dir


def test_shipped_digit_classifier_reads_the_digits(digits):
    model, meta = load_classifier("digits")
    assert meta["report"]["held_out_accuracy"] >= 0.97 and meta["report"]["resolution"] == 16
    images, labels = labelled_images(digits)
    assert classify_accuracy(model, images, labels) >= 0.97


def test_loaded_classifier_reads_in_chunks_with_batch_norm_folded_as_the_network_trained(digits):
    folded, meta = load_classifier("digits")
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in folded.modules())
    tensors, _, _ = load_tensors(classifier_file("digits"))
    trained = ImageClassifier(**meta["spec"])
    trained.load_state_dict(tensors)
    trained.eval()
    images, _ = labelled_images(digits)
    assert len(images) > 3 * folded.chunk_size  # several chunks, the last one shorter
    with torch.no_grad():
        pool = trained.hidden(trained.body(trained.prepare(images)))  # one batch, batch norm apart
        out = folded(images)
    torch.testing.assert_close(out["pool"], pool, rtol=1e-4, atol=1e-4)
    assert torch.equal(out["logits"].argmax(dim=1), trained.fc(pool).argmax(dim=1))


def test_auto_extractor_follows_the_data():
    assert default_extractor("digits") == "classifier:digits"
    assert default_extractor("stacked:digits") == "classifier:digits"
    assert default_extractor("photos/") == "inception"
    with pytest.raises(ConfigError, match=r"unknown feature extractor 'vgg'.*classifier:NAME_OR_FILE"):
        build_extractor("vgg")
    with pytest.raises(CheckpointError, match=r"does not exist.*train-classifier"):
        build_extractor("classifier:/no/such/file.safetensors")


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise(digits):
    extractor = build_extractor("classifier:digits", channels=1)
    images = digits.batch(np.arange(600))[0]
    real = extract(extractor, iter(images.split(200)), 600, progress=False)
    generator = torch.Generator().manual_seed(0)
    fids = []
    for strength in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8):
        noisy = images + strength * torch.randn(images.shape, generator=generator)
        fake = extract(extractor, iter(noisy.split(200)), 600, progress=False)
        fids.append(fid_from_stats(real.stats, fake.stats))
    assert abs(fids[0]) < 1e-6
    assert all(b > a for a, b in itertools.pairwise(fids)), fids


def test_stacked_digits_are_three_labelled_digits_as_channels():
    base = list_source("digits", "auto", "")
    stacked = list_source("stacked:digits", "auto", "")
    assert len(stacked.entries) == STACKED_COUNT and stacked.decoded.shape == (STACKED_COUNT, 8, 8, 3)
    by_image = {base.decoded[i].tobytes(): base.labels[i] for i in range(len(base.decoded))}
    for i in (0, 1, 777):
        channels = [by_image[stacked.decoded[i][..., c].tobytes()] for c in range(3)]
        assert "".join(channels) == stacked.labels[i]
    assert len(stacked.class_names) == 1000  # 60,000 draws reach every triple
    again = list_source("stacked:digits", "auto", "")
    assert np.array_equal(again.decoded, stacked.decoded)  # a fixed draw: every run sees the same data


def test_channelwise_classifier_reads_each_channel_and_the_joint_triple(digits):
    classifier, _ = load_classifier("digits")
    network = ChannelwiseClassifier(classifier)
    grey, labels = digits.batch(np.arange(30))
    stacked = torch.cat([grey[:10], grey[10:20], grey[20:30]], dim=1)  # channel c holds digit 10 c + i
    out = network(stacked)
    expected = torch.stack([labels[:10], labels[10:20], labels[20:30]], dim=1)
    assert torch.equal(out["digits"], expected)
    assert torch.equal(out["logits"].argmax(dim=1), expected[:, 0] * 100 + expected[:, 1] * 10 + expected[:, 2])
    assert out["pool"].shape == (10, 3 * classifier.feature_dim)
    assert torch.allclose(out["logits"].exp().sum(dim=1), torch.ones(10), atol=1e-4)  # a distribution


def test_mode_count_and_kl_by_hand():
    every = torch.tensor([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    uniform = stacked_modes(triple_histogram(every))
    assert (uniform.modes, uniform.kl) == (1000, pytest.approx(0.0))
    collapsed = stacked_modes(triple_histogram(torch.tensor([[1, 2, 3]] * 50)))
    assert (collapsed.modes, collapsed.kl) == (1, pytest.approx(np.log(1000)))
    two = stacked_modes(triple_histogram(torch.tensor([[0, 0, 0]] * 3 + [[9, 9, 9]])))
    assert two.kl == pytest.approx(0.75 * np.log(750) + 0.25 * np.log(250))


@pytest.mark.slow
def test_real_data_has_all_modes_and_zero_scores_against_itself():
    """The real stacked digits score as a perfect generator would: 1,000 modes, KL near 0."""
    stacked = build_dataset(DataConfig(source="stacked:digits", resolution=16), progress=False)
    evaluator = Evaluator("modes,fid", stacked, "stacked:digits", n=20_000, n_real=2000, progress=False)
    order = np.random.default_rng(0).permutation(len(stacked))[:2000]
    real_order = np.sort(order)
    same = evaluator.score((stacked.batch(real_order[i:i + 500])[0] for i in range(0, 2000, 500)), 2000)
    assert abs(same.scores["fid"]) < 1e-6
    batches = (stacked.batch(np.arange(i, i + 500))[0] for i in range(0, 20_000, 500))
    everything = evaluator.score(batches, 20_000)
    assert everything.scores["modes"] >= 990 and everything.scores["modes_kl"] < 0.1


def test_evaluate_a_checkpoint_with_every_metric_and_a_cached_real_side(digits_run):
    result = evaluate_checkpoint(digits_run, "fid,kid,is,pr,dc", n=120, n_real=300, progress=False)
    assert set(result.scores) == {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density",
                                  "coverage"}
    assert all(np.isfinite(v) for v in result.scores.values())
    assert result.protocol["extractor"] == "classifier:digits" and result.protocol["real"] == 300
    assert result.protocol["generated"] == 120 and result.protocol["step"] == 2
    again = evaluate_checkpoint(digits_run, "fid", n=120, n_real=300, progress=False)
    assert again.scores["fid"] == pytest.approx(result.scores["fid"], rel=1e-9)  # same latents, cached real side
    stats = list(Path(os.environ["STEADYGAN_CACHE"]).glob("stats/digits-*-classifier-digits-300.npz"))
    assert len(stats) == 1
    with np.load(stats[0], allow_pickle=False) as arrays:
        assert int(arrays["stats_count"]) == 300 and arrays["features"].shape == (300, 128)


def test_evaluate_rejects_what_it_cannot_measure(digits_run):
    with pytest.raises(ConfigError, match="unknown metric 'fdi'; choose one of: dc, fid, is, kid, modes, pr"):
        evaluate_checkpoint(digits_run, "fdi", n=10, progress=False)
    with pytest.raises(ConfigError, match=r"counts the 1,000 modes of stacked digits.*stacked:digits"):
        evaluate_checkpoint(digits_run, "modes", n=10, progress=False)


def write_folder(folder, images):
    for i, image in enumerate(images):
        save_image(make_grid(image[None], padding=0), folder / f"{i:04d}.png")
    return folder


def test_compare_two_folders(digits, tmp_path):
    images = digits.batch(np.arange(300))[0]
    real = write_folder(tmp_path / "real", images[:200])
    same = write_folder(tmp_path / "same", images[:200])
    other = write_folder(tmp_path / "other", images[200:300].flip(-1))
    identical = evaluate_folders(str(real), str(same), "fid,pr", extractor="classifier:digits", progress=False)
    assert abs(identical.scores["fid"]) < 1e-6 and identical.scores["precision"] == 1.0
    assert identical.protocol["reference"] == "real (16px)"
    mirrored = evaluate_folders(str(real), str(other), "fid", extractor="classifier:digits", progress=False)
    assert mirrored.scores["fid"] > 1.0 and mirrored.protocol["generated"] == 100


def test_cli_evaluate_prints_scores_and_protocol(digits_run, digits, tmp_path, capsys):
    assert cli.main(["evaluate", str(digits_run), "--metrics", "fid,kid", "-n", "64", "--n-real", "200",
                     "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["scores"]) == {"fid", "kid", "kid_std"} and report["protocol"]["generated"] == 64
    real = write_folder(tmp_path / "a", digits.batch(np.arange(50))[0])
    assert cli.main(["evaluate", "--real", str(real), "--fake", str(real), "--extractor", "classifier:digits",
                     "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("fid")


@pytest.mark.parametrize("args, message", [
    (["evaluate"], "nothing to evaluate: give a checkpoint"),
    (["evaluate", "--fake", "x"], "give either a checkpoint, or --real A --fake B"),
    (["evaluate", "--real", "{samples}", "--fake", "{samples}", "--extractor", "inception",
      "--inception-weights", "/no/w.pth"],
     "Inception weights file '/no/w.pth' does not exist; download https://github.com/mseitzer"),
    (["evaluate", "{run}", "--metrics", "fid", "-n", "1"], "argument -n/--n: must be from 2 to 200,000, got 1"),
    (["train-classifier", "--data", "digits", "--out", "c.safetensors", "--resolution", "12"], "multiple of 8"),
    (["train-classifier", "--data", "ring8", "--out", "c.safetensors"], "2-D"),
])
def test_cli_evaluation_errors_are_one_line(digits_run, tmp_path, capsys, args, message):
    args = [a.replace("{samples}", str(digits_run / "samples")).replace("{run}", str(digits_run)) for a in args]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_train_classifier_command_writes_a_usable_extractor(tmp_path, capsys, digits):
    out = tmp_path / "digits8.safetensors"
    assert cli.main(["train-classifier", "--data", "digits", "--resolution", "8", "--epochs", "2",
                     "--batch-size", "64", "--out", str(out), "--no-progress"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    model, meta = load_classifier(out)
    assert meta["report"]["held_out_accuracy"] > 0.5 and model.resolution == 8  # far above chance (0.1)
    extractor = build_extractor(f"classifier:{out}", channels=1)
    assert extractor(digits.batch(np.arange(4))[0])["pool"].shape == (4, 128)


def test_a_generator_checkpoint_is_not_a_classifier(digits_run):
    with pytest.raises(CheckpointError, match="not a classifier; train one with 'steadygan train-classifier"):
        load_classifier(digits_run / "checkpoints" / "last.safetensors")


def test_training_evaluates_periodically_and_keeps_the_best_checkpoint(tmp_path):
    config = tiny_config(tmp_path / "run", recipe="dcgan", **{"train.steps": 6, "train.eval_every": 2,
                                                              "train.eval_n": 40, "train.checkpoint_every": 3})
    result = Trainer(config, progress=False, tensorboard=False).fit()
    lines = [json.loads(line) for line in (result.out_dir / "metrics.jsonl").read_text().splitlines()]
    scored = {line["step"]: line["fid"] for line in lines if "fid" in line}
    assert sorted(scored) == [2, 4, 6]
    _, meta, _ = load_checkpoint(result.out_dir / "checkpoints" / "best.safetensors")
    best_step = min(scored, key=scored.get)
    assert meta["step"] == best_step and meta["evaluation"]["best"] == pytest.approx(scored[best_step])
    _, last, _ = load_checkpoint(result.out_dir)
    assert last["evaluation"]["best"] == pytest.approx(min(scored.values()))


def test_evaluation_during_training_on_2d_data_is_refused_before_training(tmp_path):
    config = tiny_config(tmp_path / "run", recipe="toy2d", **{"train.eval_every": 2, "data.resolution": 16})
    with pytest.raises(ConfigError, match="need image data"):
        Trainer(config, progress=False, tensorboard=False)


def test_mode_count_reading_the_extractor_equals_running_the_classifier_itself():
    stacked = build_dataset(DataConfig(source="stacked:digits", resolution=16), progress=False)
    images = stacked.batch(np.arange(1000))[0]
    alone = Evaluator("modes", stacked, "stacked:digits", n=1000, progress=False)
    with_fid = Evaluator("modes,fid", stacked, "stacked:digits", n=1000, n_real=500, progress=False)
    assert alone.extractor is None and with_fid.extractor is not None
    counted = [e.score(iter(images.split(250)), 1000).scores for e in (alone, with_fid)]
    assert counted[0]["modes"] == counted[1]["modes"]
    assert counted[0]["modes_kl"] == pytest.approx(counted[1]["modes_kl"])


def test_evaluation_during_training_can_compare_with_another_image_set(tmp_path):
    from PIL import Image

    from steadygan.metrics import evaluate_checkpoint

    digits = build_dataset(DataConfig(source="digits", resolution=16), progress=False)
    folder = tmp_path / "few"
    folder.mkdir()
    for i, image in enumerate(digits.batch(np.arange(64))[0]):  # 64 of the 1,797 digits, as grey PNGs
        Image.fromarray(((image[0].numpy() + 1) * 127.5).round().astype(np.uint8)).save(folder / f"{i:02d}.png")
    config = tiny_config(tmp_path / "run", recipe="dcgan", **{
        "data.source": str(folder), "train.steps": 2, "train.eval_every": 2, "train.eval_n": 40,
        "train.eval_real": "digits", "doctor.holdout": 0.0})
    result = Trainer(config, progress=False, tensorboard=False).fit()
    evaluation = json.loads((result.out_dir / "evaluation.json").read_text())
    assert evaluation["protocol"]["real"] == 1797 and evaluation["protocol"]["reference"].startswith("digits")
    again = evaluate_checkpoint(result.out_dir, "fid", n=40, real="digits", progress=False)
    assert evaluation["scores"]["fid"] == pytest.approx(again.scores["fid"], rel=1e-6)
