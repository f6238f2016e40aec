"""The FID Inception network: the published checkpoint's key layout, the input pipeline, and the
weights file's checks (a local file:// URL stands in for the release URL; nothing is downloaded)."""

import hashlib

import pytest
import torch
import torch.nn.functional as F

from steadygan.metrics import inception
from steadygan.metrics.inception import FIDInceptionV3, WeightsError


def conv(out, inp, kh, kw=None):
    """One BasicConv2d of the published file: conv weight without bias, and its batch norm."""
    kw = kw or kh
    return {"conv.weight": (out, inp, kh, kw), "bn.weight": (out,), "bn.bias": (out,),
            "bn.running_mean": (out,), "bn.running_var": (out,)}


def block(prefix, convs):
    return {f"{prefix}.{name}.{key}": shape for name, spec in convs.items() for key, shape in conv(*spec).items()}


def published_layout():
    """Key names and shapes of pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID Inception),
    written out from the TensorFlow graph's layer sizes."""
    layout = {}
    layout.update(block("Conv2d_1a_3x3", {"": (32, 3, 3)}))
    for name, spec in {"Conv2d_2a_3x3": (32, 32, 3), "Conv2d_2b_3x3": (64, 32, 3), "Conv2d_3b_1x1": (80, 64, 1),
                       "Conv2d_4a_3x3": (192, 80, 3)}.items():
        layout.update({f"{name}.{k}": s for k, s in conv(*spec).items()})
    layout = {k.replace("..", "."): s for k, s in layout.items()}
    for name, inp, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        layout.update(block(name, {"branch1x1": (64, inp, 1), "branch5x5_1": (48, inp, 1),
                                   "branch5x5_2": (64, 48, 5), "branch3x3dbl_1": (64, inp, 1),
                                   "branch3x3dbl_2": (96, 64, 3), "branch3x3dbl_3": (96, 96, 3),
                                   "branch_pool": (pool, inp, 1)}))
    layout.update(block("Mixed_6a", {"branch3x3": (384, 288, 3), "branch3x3dbl_1": (64, 288, 1),
                                     "branch3x3dbl_2": (96, 64, 3), "branch3x3dbl_3": (96, 96, 3)}))
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        layout.update(block(name, {"branch1x1": (192, 768, 1), "branch7x7_1": (c7, 768, 1),
                                   "branch7x7_2": (c7, c7, 1, 7), "branch7x7_3": (192, c7, 7, 1),
                                   "branch7x7dbl_1": (c7, 768, 1), "branch7x7dbl_2": (c7, c7, 7, 1),
                                   "branch7x7dbl_3": (c7, c7, 1, 7), "branch7x7dbl_4": (c7, c7, 7, 1),
                                   "branch7x7dbl_5": (192, c7, 1, 7), "branch_pool": (192, 768, 1)}))
    layout.update(block("Mixed_7a", {"branch3x3_1": (192, 768, 1), "branch3x3_2": (320, 192, 3),
                                     "branch7x7x3_1": (192, 768, 1), "branch7x7x3_2": (192, 192, 1, 7),
                                     "branch7x7x3_3": (192, 192, 7, 1), "branch7x7x3_4": (192, 192, 3)}))
    for name, inp in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        layout.update(block(name, {"branch1x1": (320, inp, 1), "branch3x3_1": (384, inp, 1),
                                   "branch3x3_2a": (384, 384, 1, 3), "branch3x3_2b": (384, 384, 3, 1),
                                   "branch3x3dbl_1": (448, inp, 1), "branch3x3dbl_2": (384, 448, 3),
                                   "branch3x3dbl_3a": (384, 384, 1, 3), "branch3x3dbl_3b": (384, 384, 3, 1),
                                   "branch_pool": (192, inp, 1)}))
    layout.update({"fc.weight": (1008, 2048), "fc.bias": (1008,)})
    return layout


def random_state(seed=0):
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in published_layout().items():
        value = torch.randn(shape, generator=generator) * 0.05
        if key.endswith(("running_var", "bn.weight")):
            value = value.abs() + 0.5
        state[key] = value
    return state


@pytest.fixture(scope="module")
def network():
    return FIDInceptionV3().load_weights(random_state())


def test_published_key_layout_loads_every_tensor(network):
    state = random_state(1)
    assert len(state) == len([k for k in network.state_dict() if not k.endswith("num_batches_tracked")])
    loaded = FIDInceptionV3().load_weights(state)
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with_counters = {**state, "Conv2d_1a_3x3.bn.num_batches_tracked": torch.tensor(0)}
    FIDInceptionV3().load_weights(with_counters)  # files saved with BN step counters load as well


def test_a_foreign_state_dict_is_a_clear_error():
    state = random_state()
    wrong = {**state, "fc.weight": torch.zeros(1000, 2048)}
    with pytest.raises(WeightsError, match=r"fc.weight has shape \(1000, 2048\), expected \(1008, 2048\).*download"):
        FIDInceptionV3().load_weights(wrong)
    missing = {k: v for k, v in state.items() if not k.startswith("Mixed_7c")}
    with pytest.raises(WeightsError, match="missing Mixed_7c"):
        FIDInceptionV3().load_weights(missing)
    with pytest.raises(WeightsError, match="unexpected AuxLogits"):
        FIDInceptionV3().load_weights({**state, "AuxLogits.fc.weight": torch.zeros(1)})


def test_outputs_2048_features_and_1008_logits_for_any_input_size(network):
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    out = network(images)
    assert out["pool"].shape == (2, 2048) and out["logits"].shape == (2, 1008)
    assert torch.allclose(out["logits"], network.fc(out["pool"]))
    grey = network(images[:, :1])  # grey images are repeated to RGB
    assert torch.allclose(grey["pool"], network(images[:, :1].expand(-1, 3, -1, -1))["pool"])


def test_the_inference_network_computes_the_same_features_with_batch_norm_folded(network):
    fast = FIDInceptionV3().load_weights(random_state()).for_inference()
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in fast.modules())
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    expected, out = network(images), fast(images)
    for key in ("pool", "logits"):
        torch.testing.assert_close(out[key], expected[key], rtol=1e-4, atol=1e-4 * float(expected[key].abs().max()))


def test_preprocessing_is_pytorch_fids_resize_of_unit_range_images():
    images = torch.rand(2, 3, 28, 28) * 2 - 1
    unit = (images + 1) / 2
    expected = 2 * F.interpolate(unit, size=(299, 299), mode="bilinear", align_corners=False) - 1
    assert torch.allclose(FIDInceptionV3.preprocess(images), expected, atol=1e-6)


def test_tensorflow_average_pool_leaves_the_padding_out():
    x = torch.ones(1, 1, 4, 4)
    assert torch.equal(inception.tf_avg_pool(x), x)  # zero padding would pull the borders below 1


def test_weights_file_path_missing_or_wrong_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("STEADYGAN_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match=r"does not exist; download .* or pass its path"):
        inception.fid_weights_file(tmp_path / "nope.pth")
    foreign = tmp_path / "other.pth"
    foreign.write_bytes(b"not the weights")
    with pytest.raises(WeightsError, match=r"has sha256 .* not that of pt_inception"):
        inception.fid_weights_file(foreign)
    with pytest.raises(WeightsError, match="not in the cache"):
        inception.fid_weights_file(allow_download=False)


def test_download_keeps_a_file_only_when_its_sha256_matches(tmp_path):
    source = tmp_path / "release.pth"
    source.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "cache" / "w.pth"
    with pytest.raises(WeightsError, match="corrupt or replaced"):
        inception.download(source.as_uri(), target, "0" * 64, progress=False)
    assert not target.exists() and not list(target.parent.glob(".*tmp"))
    assert inception.download(source.as_uri(), target, digest, progress=False).read_bytes() == source.read_bytes()
    with pytest.raises(WeightsError, match="could not download"):
        inception.download((tmp_path / "absent").as_uri(), tmp_path / "x.pth", digest, progress=False)


class Payload:
    """An arbitrary object: unpickling it would mean running the file's code."""


def test_loading_reads_tensors_only(tmp_path, monkeypatch):
    """The real file is read with weights_only=True; a file holding a pickled object is refused."""
    path = tmp_path / "w.pth"
    torch.save(random_state(), path)
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    loaded = inception.load_fid_inception(path, progress=False)
    assert isinstance(loaded, FIDInceptionV3) and not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.modules())

    torch.save({"x": Payload()}, path)
    monkeypatch.setattr(inception, "FID_WEIGHTS_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(WeightsError, match="cannot read"):
        inception.load_fid_inception(path, progress=False)
