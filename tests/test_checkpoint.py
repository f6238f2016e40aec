import json
import os

import pytest
import torch

from steadygan.errors import CheckpointError
from steadygan.storage import checkpoint as ckpt


def test_round_trip_keeps_tensors_and_meta(tmp_path):
    tensors = {"G.weight": torch.randn(3, 4), "rng": torch.get_rng_state()}
    path = ckpt.save_checkpoint(tmp_path / "c.safetensors", tensors, {"step": 7, "config": {"a": [1, 2]}})
    loaded, meta, resolved = ckpt.load_checkpoint(path)
    assert resolved == path and meta == {"step": 7, "config": {"a": [1, 2]}}
    assert set(loaded) == set(tensors)
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)


def test_views_and_shared_storage_are_saved(tmp_path):
    base = torch.randn(4, 4)
    path = ckpt.save_checkpoint(tmp_path / "c.safetensors", {"a": base, "a_t": base.t()}, {})
    loaded, _, _ = ckpt.load_checkpoint(path)
    assert torch.equal(loaded["a_t"], base.t())


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    ckpt.save_checkpoint(path, {"w": torch.zeros(2)}, {"step": 1})

    def crash(src, dst):
        raise KeyboardInterrupt  # the process dies between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(path, {"w": torch.ones(2)}, {"step": 2})
    monkeypatch.undo()
    tensors, meta, _ = ckpt.load_checkpoint(path)
    assert meta["step"] == 1 and torch.equal(tensors["w"], torch.zeros(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]  # no temp file left behind


def test_loading_executes_no_code(tmp_path):
    # A pickle that would run code if unpickled: loading must refuse it, not run it.
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.safetensors"
    torch.save({"x": Exploit()}, bad)
    with pytest.raises(CheckpointError, match="is not a steadygan checkpoint"):
        ckpt.load_checkpoint(bad)
    assert not marker.exists()


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    with pytest.raises(CheckpointError, match="is a safetensors file but not a steadygan checkpoint"):
        ckpt.load_checkpoint(path)


def test_missing_and_newer_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint '.*nope.safetensors' does not exist"):
        ckpt.load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match=r"run folder .* holds no checkpoint"):
        ckpt.load_checkpoint(tmp_path)
    from safetensors.torch import save_file

    path = tmp_path / "future.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"format": ckpt.FORMAT, "version": "99", "meta": "{}"})
    with pytest.raises(CheckpointError, match="newer steadygan"):
        ckpt.load_checkpoint(path)


def test_truncated_file_is_refused(tmp_path):
    path = ckpt.save_checkpoint(tmp_path / "c.safetensors", {"w": torch.randn(100)}, {})
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(CheckpointError, match="is not a steadygan checkpoint"):
        ckpt.load_checkpoint(path)


def test_optimizer_state_round_trip():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.9))
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    tensors, meta = ckpt.flatten_optimizer("opt", optimizer)
    meta = json.loads(json.dumps(meta))  # as it travels in the checkpoint header
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=1.0)
    ckpt.restore_optimizer("opt", fresh, tensors, meta)
    original, restored = optimizer.state_dict(), fresh.state_dict()
    assert restored["param_groups"][0]["lr"] == 1e-3
    for index in original["state"]:
        for key, value in original["state"][index].items():
            assert torch.equal(torch.as_tensor(restored["state"][index][key]), torch.as_tensor(value))
