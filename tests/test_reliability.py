"""No run is ever lost and no input goes unanswered: run folders, locks, resumes of loose checkpoints,
command-line values as typed, divergence at the last step, torn logs, images of more than 8 bits,
files that are not regular files, decompression bombs, damaged zips, and outputs that never replace a
user's file."""

import gzip
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import tiny_config
from steadygan import cli
from steadygan.config import load_config
from steadygan.data.sources import decode_entry, list_source
from steadygan.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    OutputError,
    TrainingDiverged,
)
from steadygan.run_folder import RunFolder
from steadygan.storage.checkpoint import save_checkpoint
from steadygan.train import Trainer, load_checkpoint

TINY = ["--no-progress", "--no-tensorboard", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
        "optim.batch_size=8", "train.log_every=1", "train.num_samples=4", "doctor.monitor_samples=8"]


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code, err, message):
    assert code == 2 and err.startswith("steadygan") and err.count("\n") == 1, err
    assert message in err, err


def digest(folder):
    """Every file under `folder` with its bytes, to show nothing there changed."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------------
# run folders


def test_runs_without_out_get_numbered_folders_that_never_collide(in_tmp, capsys):
    for _ in range(2):
        assert run_cli(capsys, "train", "--steps", 1, *TINY)[0] == 0
    assert sorted(p.name for p in (in_tmp / "runs").iterdir()) == ["00000-dcgan", "00001-dcgan"]
    first = digest(in_tmp / "runs" / "00000-dcgan")
    code, _, _ = run_cli(capsys, "train", "--recipe", "lsgan", "--steps", 1, *TINY)
    assert code == 0 and (in_tmp / "runs" / "00002-lsgan" / "checkpoints" / "last.safetensors").is_file()
    assert digest(in_tmp / "runs" / "00000-dcgan") == first


def test_out_that_holds_a_run_is_refused_and_overwrite_starts_over(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 2, "--out", out, *TINY)[0] == 0
    before = digest(out)
    code, _, err = run_cli(capsys, "train", "--steps", 3, "--out", out, *TINY)
    one_line_error(code, err, f"'{out}' already holds a run; continue it with `steadygan train --resume {out}`, "
                              "start over in it with --overwrite")
    assert digest(out) == before
    (out / "notes.txt").write_text("mine")
    assert run_cli(capsys, "train", "--steps", 3, "--out", out, "--overwrite", *TINY)[0] == 0
    _, meta, _ = load_checkpoint(out)
    assert meta["step"] == 3 and (out / "notes.txt").read_text() == "mine"  # only the run's own files went
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_no_two_processes_train_into_one_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 1, "--out", out, *TINY)[0] == 0
    holder = RunFolder.claim(out, fresh=False)  # another trainer holds the folder
    before = digest(out)
    code, _, err = run_cli(capsys, "train", "--resume", out, "--steps", 2, *TINY)
    one_line_error(code, err, f"'{out}' is being trained by another process (pid {os.getpid()})")
    code, _, err = run_cli(capsys, "train", "--out", out, "--overwrite", "--steps", 2, *TINY)
    one_line_error(code, err, "is being trained by another process")
    assert digest(out) == before
    holder.release()
    assert run_cli(capsys, "train", "--resume", out, "--steps", 2, *TINY)[0] == 0  # released: it may continue


def test_the_out_folder_is_checked_before_any_data_is_decoded(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.png").write_bytes(b"not a png")
    (tmp_path / "file").write_text("x")
    code, _, err = run_cli(capsys, "train", "--data", photos, "--out", tmp_path / "file" / "run", *TINY)
    one_line_error(code, err, f"--out: cannot create folder '{tmp_path / 'file' / 'run'}' (Not a directory)")
    code, _, err = run_cli(capsys, "train", "--data", photos, "--out", tmp_path / "run", *TINY)
    one_line_error(code, err, "cannot decode image")
    assert not (tmp_path / "run").exists()  # a folder made for a run that never started is removed again


def test_temporary_files_of_interrupted_writes_are_removed_at_the_next_start(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 1, "--out", out, *TINY)[0] == 0
    stale = [out / "checkpoints" / ".last.safetensors.4242.tmp", out / ".config.yaml.17.tmp",
             out / "samples" / ".step-000001.png.99.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    (out / "checkpoints" / "keep.tmp").write_text("not ours")
    assert run_cli(capsys, "train", "--resume", out, "--steps", 2, *TINY)[0] == 0
    assert not any(p.exists() for p in stale) and (out / "checkpoints" / "keep.tmp").exists()


# ---------------------------------------------------------------------------------------------------
# resuming


def test_a_loose_checkpoint_resumes_into_a_run_folder_of_its_own(in_tmp, capsys):
    assert run_cli(capsys, "train", "--steps", 2, "--out", in_tmp / "first", *TINY)[0] == 0
    downloads = in_tmp / "home" / "Downloads"
    downloads.mkdir(parents=True)
    (in_tmp / "home" / "config.yaml").write_text("my own settings\n")
    (downloads / "model.safetensors").write_bytes((in_tmp / "first" / "checkpoints" / "last.safetensors").read_bytes())
    home = digest(in_tmp / "home")
    code, out, _ = run_cli(capsys, "train", "--resume", downloads / "model.safetensors", "--steps", 3, *TINY)
    assert code == 0 and "runs/00000-model/checkpoints/last.safetensors" in out
    assert digest(in_tmp / "home") == home
    _, meta, _ = load_checkpoint(in_tmp / "runs" / "00000-model")
    assert meta["step"] == 3
    # a run's best (or any checkpoint but its last) branches off too; --out names where
    best = in_tmp / "first" / "checkpoints" / "best.safetensors"
    best.write_bytes((in_tmp / "first" / "checkpoints" / "last.safetensors").read_bytes())
    first = digest(in_tmp / "first")
    assert run_cli(capsys, "train", "--resume", best, "--out", in_tmp / "branch", "--steps", 4, *TINY)[0] == 0
    assert digest(in_tmp / "first") == first and load_checkpoint(in_tmp / "branch")[1]["step"] == 4


def test_settings_in_a_checkpoint_never_choose_where_files_go(tmp_path, capsys):
    trainer = Trainer(tiny_config(tmp_path / "run", "dcgan"), progress=False, tensorboard=False)
    trainer.close()
    tensors, meta = trainer.state.tensors_and_meta()
    meta["config"]["train"]["out_dir"] = str(tmp_path / "elsewhere")
    meta["config"]["data"]["cache_dir"] = str(tmp_path / "other-cache")
    save_checkpoint(tmp_path / "crafted.safetensors", tensors, meta)
    assert run_cli(capsys, "train", "--resume", tmp_path / "crafted.safetensors", "--out", tmp_path / "resumed",
                   "--steps", 7, *TINY[:2])[0] == 0
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "other-cache").exists()
    assert load_checkpoint(tmp_path / "resumed")[1]["step"] == 7


def test_a_checkpoint_config_is_validated_like_a_recipe(tmp_path, capsys):
    trainer = Trainer(tiny_config(tmp_path / "run", "dcgan"), progress=False, tensorboard=False)
    trainer.close()
    tensors, meta = trainer.state.tensors_and_meta()
    for key, value, message in [("optim.g_lr", -1.0, "config key 'optim.g_lr' is -1.0; it must be positive"),
                                ("model.g_width", 16384, "parameters"),
                                ("loss.name", "stylegan9", "unknown loss 'stylegan9'")]:
        section, name = key.split(".")
        crafted = json.loads(json.dumps(meta))
        crafted["config"][section][name] = value
        path = save_checkpoint(tmp_path / f"{name}.safetensors", tensors, crafted)
        for command in (["info", path], ["sample", path, "--out", tmp_path / "s.png"],
                        ["train", "--resume", path, "--out", tmp_path / f"r-{name}", *TINY]):
            code, _, err = run_cli(capsys, *command)
            one_line_error(code, err, message)
    assert not (tmp_path / "s.png").exists()


def test_a_resume_override_that_changes_the_networks_names_the_key(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 1, "--out", out, *TINY)[0] == 0
    code, _, err = run_cli(capsys, "train", "--resume", out, "model.g_width=8", *TINY[:2])
    one_line_error(code, err, "model.g_width=8 would change the networks the checkpoint holds (model.g_width is 4 "
                              "there); a resumed run keeps its architecture")
    code, _, err = run_cli(capsys, "train", "--resume", out, "model.spectral_norm=true", *TINY[:2])
    one_line_error(code, err, "model.spectral_norm=True would change the networks")
    # settings that keep the networks as they are may change
    assert run_cli(capsys, "train", "--resume", out, "--steps", 2, "optim.d_lr=1e-4", *TINY)[0] == 0


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path):
    trainer = Trainer(tiny_config(tmp_path / "run", "dcgan"), progress=False, tensorboard=False)
    trainer.close()
    tensors, meta = trainer.state.tensors_and_meta()
    tensors = {k: v.clone() for k, v in tensors.items()}
    next(v for k, v in tensors.items() if k.startswith("G.") and v.is_floating_point()).fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan.safetensors", tensors, meta)
    with pytest.raises(CheckpointError, match="holds NaN/inf weights"):
        Trainer.resume(path, [f"train.out_dir={tmp_path / 'r'}"], progress=False, tensorboard=False)


# ---------------------------------------------------------------------------------------------------
# the command line


def test_values_are_taken_exactly_as_typed(tmp_path, capsys):
    photos = tmp_path / "photos #1"
    (photos / "cats").mkdir(parents=True)
    (photos / "dogs").mkdir()
    for i in range(10):
        Image.fromarray(np.full((18, 18, 3), 20 * i, np.uint8)).save(photos / ("cats", "dogs")[i % 2] / f"{i}.png")
    out = tmp_path / "x #2"
    code, _, _ = run_cli(capsys, "train", "--data", photos, "--out", out, "--steps", 1, *TINY)
    assert code == 0
    config = load_checkpoint(out)[1]["config"]
    assert config["data"]["source"] == str(photos) and config["train"]["out_dir"] == str(out)
    assert not (tmp_path / "x").exists()


def test_overrides_may_stand_anywhere(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run_cli(capsys, "train", "optim.n_dis=2", "--steps", 1, "model.z_dim=6", "--out", out,
                         "train.seed=3", *TINY[:2])
    assert code == 0
    config = load_checkpoint(out)[1]["config"]
    assert (config["optim"]["n_dis"], config["model"]["z_dim"], config["train"]["seed"]) == (2, 6, 3)
    code, _, err = run_cli(capsys, "train", "--steps", 1, "--frobnicate", "optim.n_dis=2")
    one_line_error(code, err, "unrecognized arguments: --frobnicate")


@pytest.mark.parametrize("args, message", [
    (["sample", "{run}", "-n", "0"], "argument -n: must be from 1 to 100,000, got 0"),
    (["sample", "{run}", "--nrow", "-2"], "argument --nrow: must be from 1"),
    (["sample", "{run}", "--out", "{tmp}"], "is a folder; give a file name such as"),
    (["sample", "{run}", "--out", "{tmp}/grid.jpg"], "must name a .png file"),
    (["sample", "{run}", "--seed", "-1"], "argument --seed: must be from 0"),
    (["interpolate", "{run}", "--steps", "0"], "argument --steps: must be from 2 to 256, got 0"),
    (["interpolate", "{run}", "--rows", "x"], "argument --rows: 'x' is not an integer"),
    (["animate", "{run}", "--frame-ms", "0"], "argument --frame-ms: must be from 1"),
    (["animate", "{run}", "--out", "{tmp}/walk.png"], "must name a .gif file"),
    (["evaluate", "{run}", "--device", "gpu7"], "--device='gpu7' is not a device; use auto, cpu, cuda or cuda:N"),
    (["compare", "--data", "digits", "--recipes", "dcgan", "--budget", "1k", "--points", "0"], "argument --points"),
    (["train", "--device", "cuda:9"], "train.device=cuda:9 but no CUDA device is available"),
    (["train", "--device", "cpu:1"], "train.device=cpu:1 is not a device"),
    (["train-classifier", "--data", "digits", "--out", "{tmp}/c.bin"], "must name a .safetensors file"),
])
def test_every_command_checks_its_arguments(tmp_path, capsys, args, message):
    run = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 1, "--out", run, *TINY)[0] == 0
    if "cuda" in message and torch.cuda.is_available():
        pytest.skip("this machine has CUDA devices")
    args = [a.replace("{run}", str(run)).replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = run_cli(capsys, *args)
    one_line_error(code, err, message)


def test_outputs_replace_only_files_the_same_command_wrote(tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 1, "--out", run, *TINY)[0] == 0
    grid = tmp_path / "grid.png"
    assert run_cli(capsys, "sample", run, "-n", 4, "--out", grid)[0] == 0
    assert run_cli(capsys, "sample", run, "-n", 9, "--out", grid)[0] == 0  # its own output: replaced
    assert Image.open(grid).info["Software"] == "steadygan sample"
    mine = tmp_path / "mine.png"
    Image.new("RGB", (3, 3)).save(mine)
    Image.new("RGB", (3, 3)).save(tmp_path / "a.gif")
    for command in (["sample", run, "--out", mine], ["sample", run, "--out", run / "loss.png"],
                    ["interpolate", run, "--out", tmp_path / "mine"], ["animate", run, "--out", tmp_path / "a.gif"]):
        before = {p: p.read_bytes() for p in tmp_path.glob("*.*")}
        code, _, err = run_cli(capsys, *command)
        one_line_error(code, err, "exists and was not written by `steadygan")
        assert {p: p.read_bytes() for p in tmp_path.glob("*.*")} == before
    folder = tmp_path / "each"
    folder.mkdir()
    Image.new("RGB", (3, 3)).save(folder / "0000-00001.png")
    code, _, err = run_cli(capsys, "sample", run, "-n", 3, "--separate", "--out", folder)
    one_line_error(code, err, f"--out {folder / '0000-00001.png'} exists and was not written by `steadygan sample`")
    (tmp_path / "cls.safetensors").write_bytes(b"my weights")
    code, _, err = run_cli(capsys, "train-classifier", "--data", "digits", "--out", tmp_path / "cls.safetensors")
    one_line_error(code, err, "exists and was not written by `steadygan train-classifier`")
    assert (tmp_path / "cls.safetensors").read_bytes() == b"my weights"


# ---------------------------------------------------------------------------------------------------
# divergence and logs


def test_a_run_that_diverges_at_its_last_step_trains_on_or_fails(tmp_path):
    trainer = Trainer(tiny_config(tmp_path / "a", "dcgan", **{"train.log_every": 100}), progress=False,
                      tensorboard=False)
    poisoned = []

    def poison_last_step(t):  # NaN weights at the last step, once: rolled back and trained again
        if t.step == t.config.train.steps and not poisoned:
            poisoned.append(t.step)
            next(t.G.parameters()).data.fill_(float("nan"))

    trainer.callbacks.append(poison_last_step)
    result = trainer.fit()
    assert result.completed and result.step == 6 and poisoned == [6] and trainer.rollbacks == 1
    assert all(torch.isfinite(p).all() for p in trainer.G.parameters())
    _, meta, _ = load_checkpoint(tmp_path / "a")
    assert meta["step"] == 6 and meta["doctor"]["rollbacks"] == 1

    always = Trainer(tiny_config(tmp_path / "b", "dcgan", **{"train.log_every": 100, "doctor.max_rollbacks": 2}),
                     progress=False, tensorboard=False)
    always.callbacks.append(lambda t: next(t.G.parameters()).data.fill_(float("nan")) if t.step == 6 else None)
    with pytest.raises(TrainingDiverged, match="after 2 rollback"):
        always.fit()


def test_the_command_exits_non_zero_when_a_run_ends_diverged(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", "--steps", 3, "--out", tmp_path / "run", "optim.g_lr=1e30",
                             "optim.d_lr=1e30", "doctor.rollback=false", "train.log_every=100", *TINY[:2])
    one_line_error(code, err, "training diverged (NaN/inf weights) at step 3 after 0 rollback(s)")
    assert "finished" not in out


def test_a_torn_metrics_line_is_dropped_with_a_warning(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 2, "--out", out, *TINY)[0] == 0
    with open(out / "metrics.jsonl", "a") as log:
        log.write('{"step": 3, "d_lo')  # a crash in the middle of a write
    code, text, err = run_cli(capsys, "doctor", out)
    assert code == 0 and "2 logged records" in text
    assert err.startswith(f"steadygan: warning: {out / 'metrics.jsonl'}: dropped 1 unreadable line(s) (line 3)")
    assert run_cli(capsys, "train", "--resume", out, "--steps", 3, *TINY)[0] == 0
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


# ---------------------------------------------------------------------------------------------------
# data


def _decoded(folder, channels=0):
    listing = list_source(str(folder), "none", "")
    return decode_entry(listing, 0, 4, channels or listing.native_channels, False)


MODE_CASES = {  # mode -> (array given to Pillow, the 8-bit grey or RGB values a NumPy reference expects)
    "I;16": lambda v: (v.astype(np.uint16) * 257 + 3, np.rint((v.astype(np.float64) * 257 + 3) * 255 / 65535)),
    "I": lambda v: (v.astype(np.int32) * 200, np.rint(v * 200.0 * 255 / 65535)),
    "I wide": lambda v: (v.astype(np.int32) * 10**6 - 5, np.rint((v - v.min()) / (v.max() - v.min()) * 255)),
    "F": lambda v: ((v / 255).astype(np.float32), np.rint((v / 255).astype(np.float32).astype(np.float64) * 255)),
    "F wide": lambda v: (v.astype(np.float32) * 4 - 9, np.rint((v - v.min()) / (v.max() - v.min()) * 255)),
    "L": lambda v: (v.astype(np.uint8), v),
}


@pytest.mark.parametrize("mode", MODE_CASES)
def test_images_of_every_bit_depth_are_scaled_to_8_bits(tmp_path, mode):
    values = np.arange(16, dtype=np.float64).reshape(4, 4) * 16 + 7  # 7 .. 247
    array, expected = MODE_CASES[mode](values)
    folder = tmp_path / "images"
    folder.mkdir()
    image = Image.fromarray(array)
    assert image.mode == mode.split()[0]
    image.save(folder / ("a.png" if mode in ("L", "I;16") else "a.tiff"))  # TIFF stores 32-bit integers and floats
    decoded = _decoded(folder, channels=1)
    assert decoded.shape == (1, 4, 4) and decoded.dtype == np.uint8
    assert np.array_equal(decoded[0], expected.astype(np.uint8)), (decoded[0], expected)
    rgb = _decoded(folder, channels=3)
    assert all(np.array_equal(rgb[c], expected.astype(np.uint8)) for c in range(3))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P transparent", "P", "1", "CMYK", "RGB"])
def test_eight_bit_modes_with_and_without_transparency(tmp_path, mode):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    alpha = np.where(np.arange(16).reshape(4, 4) % 2 == 0, 255, 0).astype(np.uint8)
    base = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    image = base.convert(mode.split()[0])
    folder = tmp_path / "images"
    folder.mkdir()
    path = folder / ("a.tiff" if mode == "CMYK" else "a.png")
    image.save(path, **({"transparency": int(np.asarray(image)[0, 1])} if mode == "P transparent" else {}))
    decoded = _decoded(folder, channels=3).transpose(1, 2, 0).astype(np.float64)
    # the reference: Pillow's own colour conversion of that mode to RGBA, composited on white in NumPy
    rgba = np.asarray(Image.open(path).convert("RGBA"), dtype=np.float64)
    a = rgba[..., 3:] / 255
    expected = rgba[..., :3] * a + 255 * (1 - a)
    assert np.abs(decoded - expected).max() <= 1.0  # Pillow's compositing rounds within one level
    if mode in ("RGBA", "LA"):
        assert (decoded[alpha == 0] == 255).all()  # transparent pixels are white, not black
    if mode == "P transparent":
        assert (decoded[0, 1] == 255).all()


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "ok.png")
    os.symlink(fifo, folder / "link.png")
    with pytest.raises(DataError, match=r"link.png' is not a regular file \(a device, pipe or socket\)"):
        list_source(str(folder), "none", "")
    for source in (str(fifo), "/dev/zero"):
        with pytest.raises(DataError, match="is not a regular file or folder"):
            list_source(source, "none", "")
    (folder / "link.png").unlink()
    os.symlink(tmp_path / "gone.png", folder / "link.png")
    with pytest.raises(DataError, match="a broken link"):
        list_source(str(folder), "none", "")


def test_decompression_bombs_and_damaged_zip_members_are_named(tmp_path):
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    Image.new("L", (12000, 12000)).save(bomb / "huge.png")  # 144 MP of zeros: a few hundred KB as PNG
    with pytest.raises(DataError, match=r"huge.png' is 12000x12000 pixels, past the decoder's limit"):
        _decoded(bomb)
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        buffer = tmp_path / "x.png"
        Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer)
        zipped.write(buffer, "a/x.png")
    data = bytearray(archive.read_bytes())
    data[40 + 30] ^= 0xFF  # a byte of the stored member: its CRC-32 no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"cannot read '.*photos.zip:a/x.png' \(Bad CRC-32 .*the zip is damaged"):
        _decoded(archive)


def test_idx_files_are_read_no_further_than_their_header(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    claims = bytes([0, 0, 8, 3]) + (10**6).to_bytes(4, "big") + (10**4).to_bytes(4, "big") * 2
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as idx:
        idx.write(claims + bytes(1000))
    with pytest.raises(DataError, match=r"claims shape \(1000000, 10000, 10000\)"):
        list_source(str(folder), "none", "")
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as idx:
        idx.write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4]) + bytes(40))
    with pytest.raises(DataError, match="does not match its header: header says \\(2, 4, 4\\), found more than 32"):
        list_source(str(folder), "none", "")


def test_a_header_only_labels_csv_says_it_has_no_rows(tmp_path):
    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(folder / "a" / "x.png")
    (folder / "labels.csv").write_text("file,label\n")
    with pytest.raises(DataError, match=r"labels.csv' has a header but no rows"):
        list_source(str(folder), "auto", "")
    (folder / "labels.csv").write_text("file,label\na/x.png\n")
    with pytest.raises(DataError, match=r"line 2 of .*labels.csv' has no file or no label"):
        list_source(str(folder), "auto", "")
    (folder / "labels.csv").write_bytes(b"file,label\na/x.png,\xff\n")
    with pytest.raises(DataError, match="is not UTF-8 text"):
        list_source(str(folder), "auto", "")


@pytest.mark.parametrize("recipe, refused", [("dcgan", None), ("sngan", "loss.label_smoothing=one_sided"),
                                             ("pggan", "model.spectral_norm=true")])
def test_the_doctor_suggests_only_settings_the_run_accepts(recipe, refused):
    from steadygan.train.doctor import Doctor
    from steadygan.validation import validate

    config = load_config(recipe)
    doctor = Doctor(config)
    for i in range(12):
        doctor.examine({"step": 10 * i, "d_acc_real": 0.99, "d_acc_fake": 0.99})
    remedy = doctor.findings["d_overpowering"].remedy
    first, _, others = remedy.partition(" (or ")
    suggestions = [first, *others.rstrip(")").split(", ")]
    assert suggestions[0] == f"optim.d_lr={config.optim.d_lr / 4:g}" and len(suggestions) >= 2
    for suggestion in suggestions:
        validate(load_config(recipe, suggestion.split()))  # each one is accepted as it is written
    if refused:
        assert refused not in remedy
        with pytest.raises(ConfigError):
            from steadygan.models import check_config_networks

            check_config_networks(validate(load_config(recipe, [refused])))


def test_label_smoothing_is_refused_where_it_would_do_nothing():
    from steadygan.validation import validate

    with pytest.raises(ConfigError, match=r"loss.name=hinge has none: set loss.label_smoothing=none"):
        validate(load_config("sngan", ["loss.label_smoothing=one_sided"]))


def test_a_file_where_the_run_folder_should_be_is_refused(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OutputError, match=r"--out: '.*f.txt' is a file, not a folder"):
        RunFolder.claim(tmp_path / "f.txt", fresh=True)
    assert (tmp_path / "f.txt").read_text() == "x"


def test_half_written_cache_files_of_dead_processes_are_removed(tmp_path):
    from steadygan.data.cache import _memory_mapped

    path = tmp_path / "set-16px-3ch-abc.npy"
    dead = subprocess_pid_that_has_ended()
    stale, live = tmp_path / f".{path.name}.{dead}.tmp", tmp_path / f".{path.name}.{os.getppid()}.tmp"
    stale.write_bytes(b"x" * 100)
    live.write_bytes(b"being written")
    array = _memory_mapped(path, (2, 3), lambda target: target.fill(7))
    assert (np.asarray(array) == 7).all()
    assert not stale.exists() and live.exists()  # a live process's file is its own


def subprocess_pid_that_has_ended():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_separate_samples_are_written_a_batch_at_a_time_and_match_the_grid(tmp_path, capsys, monkeypatch):
    from steadygan import generate

    run = tmp_path / "run"
    assert run_cli(capsys, "train", "--steps", 1, "--out", run, *TINY)[0] == 0
    monkeypatch.setattr(generate, "SEPARATE_BATCH", 2)
    assert run_cli(capsys, "sample", run, "-n", 5, "--separate", "--out", tmp_path / "each")[0] == 0
    assert run_cli(capsys, "sample", run, "-n", 5, "--nrow", 5, "--out", tmp_path / "grid.png")[0] == 0
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    for i in range(5):  # the same latents, generated in batches of 2, as the grid's tiles
        tile = grid[2:18, 2 + 18 * i:18 + 18 * i]
        assert np.array_equal(np.asarray(Image.open(tmp_path / "each" / f"0000-{i:05d}.png")), tile)  # grey
    code, _, err = run_cli(capsys, "sample", run, "-n", 5000, "--out", tmp_path / "big.png")
    one_line_error(code, err, "a grid holds at most 4,096 images, not 5,000; use --separate")


def test_an_interpolation_too_large_to_hold_is_refused_before_work(tmp_path, capsys):
    code, _, err = run_cli(capsys, "interpolate", tmp_path / "no-run", "--rows", 64, "--keys", 32, "--steps", 10,
                           "--out", tmp_path / "walk")
    one_line_error(code, err, "64 walks of 32 latents and 10 steps make 18,432 images, more than 4,096")


@pytest.mark.parametrize("source", ["digits", "ring8"])
def test_a_split_where_there_are_none_is_refused(source):
    from steadygan.config import DataConfig
    from steadygan.data import build_dataset

    with pytest.raises(DataError, match=r"data.split=train does not apply to"):
        build_dataset(DataConfig(source=source, split="train"), progress=False)
