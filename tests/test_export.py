"""`steadygan export`: the written file loads in a fresh Python in which steadygan cannot be imported, and
gives steadygan's own images for the same latents (DCGAN, SN-GAN, a conditional ResNet, PGGAN at its final
resolution, StyleGAN2 with truncation in w); its usage example runs there too; nothing of yours is
written over."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import tiny_trainer
from steadygan import cli
from steadygan.export import export_generator
from steadygan.generate import load_generator
from steadygan.models.pggan import Progressive
from steadygan.sampling import generate, styles_of

# Runs in `python -I` (no working folder, PYTHONPATH or user site on the path) with steadygan blocked, as in
# an application that never installed it: loads each exported file, runs it on the saved latents, saves the
# images, then runs each usage example the export wrote.
FRESH_PYTHON = r"""
import json, runpy, sys
sys.modules["steadygan"] = None  # an installed steadygan (editable or not) can no longer be imported
try:
    import steadygan
except ImportError:
    pass
else:
    raise SystemExit("steadygan is importable")
import numpy as np
import torch

task = json.loads(sys.argv[1])
for job in task["jobs"]:
    inputs = [np.load(path) for path in job["inputs"]]
    if job["format"] == "torchscript":
        module = torch.jit.load(job["file"])
        with torch.no_grad():
            tensors = [torch.from_numpy(x) for x in inputs]
            np.save(job["output"], module(*tensors).numpy())
            if job["style_based"]:
                ws = module.mapping(*tensors)
                np.save(job["output"] + ".ws.npy", ws.numpy())
                np.save(job["output"] + ".synthesis.npy", module.synthesis(ws).numpy())
    else:
        import onnxruntime
        session = onnxruntime.InferenceSession(job["file"], providers=["CPUExecutionProvider"])
        feeds = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
        np.save(job["output"], session.run(None, feeds)[0])
    runpy.run_path(job["usage"], run_name="__main__")
assert not any(name == "steadygan" or name.startswith("steadygan.") for name in sys.modules if sys.modules[name])
print("ok")
"""


def run_fresh(jobs, cwd):
    command = [sys.executable, "-I", "-c", FRESH_PYTHON, json.dumps({"jobs": jobs})]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny trained runs, made once: name -> run folder."""
    root = tmp_path_factory.mktemp("export-runs")
    runs = {
        "dcgan": ("dcgan", {}),
        "sngan": ("sngan", {}),
        "conditional": ("sngan-projection", {}),
        "pggan": ("pggan", {"growth.fade_images": 8, "growth.stabilize_images": 8,
                            "growth.batch_sizes": "{4: 8, 8: 8, 16: 8}", "optim.n_dis": 1}),
        "stylegan2": ("stylegan2", {"model.mapping_layers": 2, "model.conditional": True}),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEADYGAN_CACHE", str(root / "cache"))
        for name, (recipe, overrides) in runs.items():
            tiny_trainer(root / name, recipe, **{"train.steps": 6, **overrides}).fit()
    return root


def latents(loaded, n, seed, with_labels):
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, loaded.generator.z_dim, generator=rng)
    labels = torch.randint(loaded.num_classes, (n,), generator=rng) if with_labels else None
    return z, labels


def export_job(tmp_path, run, name, fmt="torchscript", n=7, **options):
    """Exports `run`, saves latents for the fresh process, and returns its job and steadygan's images."""
    result = export_generator(run, format=fmt, out=tmp_path / f"{name}.{'pt' if fmt == 'torchscript' else 'onnx'}",
                              **options)
    loaded = load_generator(run)
    class_index = loaded.class_index(options.get("class_label"))
    z, labels = latents(loaded, n, seed=11, with_labels=loaded.num_classes > 0 and class_index is None)
    inputs = [tmp_path / f"{name}-z.npy"]
    np.save(inputs[0], z.numpy())
    if labels is not None:
        inputs.append(tmp_path / f"{name}-labels.npy")
        np.save(inputs[1], labels.numpy())
    elif class_index is not None:
        labels = torch.full((n,), class_index)
    if isinstance(loaded.generator, Progressive):
        loaded.generator.set_phase(loaded.generator.max_depth)
    truncation = options.get("truncation")
    expected = generate(loaded.generator, z, labels, truncation=truncation).clamp(-1, 1)
    job = {"file": str(result.path), "format": fmt, "inputs": [str(p) for p in inputs],
           "output": str(tmp_path / f"{name}-out.npy"), "usage": str(result.usage_path),
           "style_based": fmt == "torchscript" and hasattr(loaded.generator, "mapping")}
    return result, job, expected, (loaded, z, labels)


@pytest.mark.parametrize("name", ["dcgan", "sngan", "conditional", "pggan"])
def test_a_torchscript_export_gives_steadygans_images_without_steadygan(trained, tmp_path, name):
    result, job, expected, (loaded, _, _) = export_job(tmp_path, trained / name, name)
    assert result.max_difference is not None and result.max_difference < 1e-5  # the export's own check
    run_fresh([job], tmp_path)
    images = np.load(job["output"])
    assert images.shape == expected.shape == (7, loaded.data["shape"][0], 16, 16)  # PGGAN: the final resolution
    difference = float(np.abs(images - expected.numpy()).max())
    assert difference < 1e-5, f"max abs difference {difference:.3g}"
    sample = Image.open(tmp_path / f"{name}-samples.png")  # the usage example's output
    assert sample.size == (16 * 16, 16)


def test_stylegan2_exports_mapping_and_synthesis_with_truncation_in_w(trained, tmp_path):
    run = trained / "stylegan2"
    result, job, expected, (loaded, z, labels) = export_job(tmp_path, run, "style", truncation=0.5)
    run_fresh([job], tmp_path)
    images, ws = np.load(job["output"]), np.load(job["output"] + ".ws.npy")
    assert images.shape == (7, 1, 16, 16) and job["inputs"][1].endswith("labels.npy")  # a conditional G
    assert float(np.abs(images - expected.numpy()).max()) < 1e-5
    assert np.array_equal(np.load(job["output"] + ".synthesis.npy"), images)
    assert float(np.abs(ws - styles_of(loaded.generator, z, labels, truncation=0.5).numpy()).max()) < 1e-6
    untruncated = generate(loaded.generator, z, labels).clamp(-1, 1)
    assert float(np.abs(images - untruncated.numpy()).max()) > 1e-3  # psi did change the images
    assert "Truncation psi = 0.5 is applied in w inside the file." in result.usage


def test_a_fixed_class_and_uint8_images(trained, tmp_path):
    run = trained / "conditional"
    result, job, expected, _ = export_job(tmp_path, run, "class3", class_label="3", uint8=True)
    assert len(job["inputs"]) == 1  # the class is inside the file: it takes z alone
    run_fresh([job], tmp_path)
    images = np.load(job["output"])
    reference = ((expected + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert images.dtype == np.uint8 and images.shape == (7, 16, 16, 1)  # the digits are grey
    assert int(np.abs(images.astype(int) - reference.astype(int)).max()) <= 1  # a rounding step at most
    assert "Every image is of class 3 (3)." in result.usage


def test_onnx_exports_check_with_onnxruntime(trained, tmp_path):
    pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'steadygan[onnx]')")
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'steadygan[onnx]')")
    jobs, references = [], []
    for name, options in [("conditional", {}), ("stylegan2", {"truncation": 0.7}), ("pggan", {"uint8": True})]:
        result, job, expected, _ = export_job(tmp_path, trained / name, f"onnx-{name}", fmt="onnx", **options)
        assert result.max_difference is not None and result.note.startswith("checked: onnxruntime")
        jobs.append(job)
        references.append(((expected + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
                          if options.get("uint8") else expected)
    run_fresh(jobs, tmp_path)
    for job, expected in zip(jobs, references, strict=True):
        images = np.load(job["output"])
        difference = float(np.abs(images.astype(np.float64) - expected.numpy().astype(np.float64)).max())
        assert images.shape == tuple(expected.shape)
        assert difference <= (1 if images.dtype == np.uint8 else 1e-4), f"{job['file']}: {difference:.3g}"


def test_a_truncation_in_z_is_how_the_usage_example_draws(trained, tmp_path, capsys):
    out = tmp_path / "g.pt"
    assert cli.main(["export", str(trained / "sngan"), "--truncation", "0.8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} and {tmp_path / 'g-usage.py'}; checked:" in printed
    assert "z = torch.nn.init.trunc_normal_(torch.empty(16, 16), a=-0.8, b=0.8)" in printed
    assert (tmp_path / "g-usage.py").read_text().strip() in printed


def test_a_progressive_checkpoint_before_its_last_phase_warns(tmp_path):
    run = tmp_path / "young"
    tiny_trainer(run, "pggan", **{"train.steps": 2, "growth.fade_images": 8, "growth.stabilize_images": 8,
                                  "growth.batch_sizes": "{4: 8, 8: 8, 16: 8}", "optim.n_dis": 1}).fit()
    with pytest.warns(UserWarning, match="is at 8px fade .*the export renders the final 16px"):
        result = export_generator(run, out=tmp_path / "young.pt")
    assert result.max_difference is not None and result.max_difference < 1e-5


def test_nothing_of_yours_is_written_over(trained, tmp_path, capsys):
    mine = tmp_path / "generator.pt"
    mine.write_bytes(b"my own model")
    assert cli.main(["export", str(trained / "dcgan"), "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steadygan: error: --out") and "was not written by `steadygan export`" in err
    assert err.count("\n") == 1 and mine.read_bytes() == b"my own model"

    mine.unlink()
    (tmp_path / "generator-usage.py").write_text("print('my script')\n")
    assert cli.main(["export", str(trained / "dcgan"), "--out", str(mine)]) == 2
    assert "the usage example" in capsys.readouterr().err and not mine.exists()

    (tmp_path / "generator-usage.py").unlink()
    for _ in range(2):  # an export replaces its own files
        assert cli.main(["export", str(trained / "dcgan"), "--out", str(mine)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("args, message", [
    (["--class", "3"], "holds an unconditional model"),
    (["--format", "onnx"], "--format onnx needs the onnx package, which is not installed; pip install"),
    (["--format", "tflite"], "unknown export format 'tflite'; choose one of: onnx, torchscript"),
])
def test_bad_requests_are_one_line_errors(trained, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as where the extra is not installed
    assert cli.main(["export", str(trained / "dcgan"), "--out", str(tmp_path / "g.pt"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steadygan: error: ") and err.count("\n") == 1 and message in err


def test_a_model_of_points_is_not_exported(tmp_path, capsys):
    tiny_trainer(tmp_path / "ring", "toy2d", **{"train.steps": 2}).fit()
    assert cli.main(["export", str(tmp_path / "ring"), "--out", str(tmp_path / "g.pt")]) == 2
    assert "export needs an image model" in capsys.readouterr().err
