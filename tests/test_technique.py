"""The technique contract: every technique declares what the trainer needs of it, a new one plugs in without
a change to the loop, intervals weight their terms, state survives checkpoints, and the layers point one way."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import tiny_trainer
from steadygan.catalog import catalog, technique_groups
from steadygan.config import SECTIONS, _comments
from steadygan.errors import ConfigError
from steadygan.regularizers import REGULARIZERS, Regularizer
from steadygan.technique import DiscriminatorBatch, Phase, Technique
from steadygan.train.metrics_log import read_records

PACKAGE = Path(__file__).resolve().parent.parent / "steadygan"
PHASE_METHODS = {Phase.D_INPUT: "augment", Phase.STYLES: "styles", Phase.D_STEP: "d_term",
                 Phase.AFTER_D_STEP: "after_d_step", Phase.G_STEP: "g_term", Phase.AFTER_G_STEP: "after_g_step",
                 Phase.STEP_START: "begin_step", Phase.LOG: "measure"}
TECHNIQUES = [t for _, _, group in technique_groups() for t in group]


@pytest.mark.parametrize("technique", TECHNIQUES, ids=lambda t: t.name)
def test_every_technique_declares_its_keys_phases_and_methods(technique):
    keys = {f"{section}.{f.name}" for section, make in SECTIONS.items() for f in dataclasses.fields(make())}
    assert technique.name and set(technique.keys) <= keys and technique.keys
    assert all(_comments()[key] for key in technique.keys)  # every key has help text
    for phase in technique.phases:
        method = "d_loss" if phase is Phase.D_STEP and hasattr(technique, "d_loss") else PHASE_METHODS[phase]
        if phase is Phase.G_STEP and hasattr(technique, "g_loss"):
            method = "g_loss"  # a loss's G part, which G's objective takes
        assert getattr(technique, method) is not getattr(Technique, method, None), (technique.name, method)


def test_technique_names_are_unique_and_listed_with_their_choices():
    names = [t.name for t in TECHNIQUES]
    assert len(names) == len(set(names))
    text = catalog()
    assert all(f"  {name}: " in text for name in names)
    assert "regularize.r1_interval = 1 (an integer, in [1, 10000])" in text
    assert "optim.optimizer: adam, rmsprop" in text


class LogitPenalty(Regularizer):
    """A penalty the trainer has never heard of: weight * E[D(x)^2 + D(G(z))^2]."""

    keys = ("regularize.drift",)
    phases = (Phase.D_STEP,)

    @classmethod
    def from_config(cls, config):
        return cls(0.5)

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        return self.weight * (batch.real_out.pow(2).mean() + batch.fake_out.pow(2).mean())


def test_a_new_penalty_plugs_in_by_registration_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(REGULARIZERS, "_entries", dict(REGULARIZERS._entries))
    REGULARIZERS.register("logit_penalty")(LogitPenalty)
    trainer = tiny_trainer(tmp_path, "dcgan", **{"train.steps": 2, "train.log_every": 1})
    assert [t.name for t in trainer.techniques.at(Phase.D_STEP)] == ["logit_penalty"]
    trainer.fit()
    records = read_records(tmp_path / "metrics.jsonl")
    real, fake = records[0]["d_real"], records[0]["d_fake"]  # batch means of D's outputs
    assert records[0]["logit_penalty"] >= 0.5 * (real**2 + fake**2) * (1 - 1e-6)  # E[x^2] >= E[x]^2


def test_an_interval_applies_a_term_every_kth_step_weighted_by_k(tmp_path):
    def r1_logs(interval):
        trainer = tiny_trainer(tmp_path / str(interval), "dcgan", **{
            "regularize.r1": 1.0, "regularize.r1_interval": interval, "optim.n_dis": 1, "train.steps": 4,
            "train.log_every": 1})
        trainer.fit()
        return [record.get("r1") for record in read_records(trainer.out_dir / "metrics.jsonl")]

    every, lazy = r1_logs(1), r1_logs(2)
    assert lazy[1] is None and lazy[3] is None and None not in every
    assert lazy[0] == pytest.approx(2 * every[0], rel=1e-6)  # the first step is the same in both runs


STATEFUL_RUNS = {"began": ("began", {}), "lecam": ("dcgan", {"regularize.lecam": 0.3}),
                 "ada": ("dcgan", {"regularize.ada": "adaptive", "regularize.ada_p": 0.5,
                                   "regularize.ada_interval": 1}),
                 "path_length": ("stylegan2", {"regularize.pl_interval": 1})}


@pytest.mark.parametrize("technique", [t for t in TECHNIQUES if t.state_dict is not Technique.state_dict],
                         ids=lambda t: t.name)
def test_state_of_every_stateful_technique_round_trips_through_json(technique, tmp_path):
    recipe, overrides = STATEFUL_RUNS[technique.name]  # a KeyError names a stateful technique to add here
    trainer = tiny_trainer(tmp_path, recipe, **overrides)
    trainer.train_step()
    unit = next(t for t in trainer.techniques.all() if t.name == technique.name)
    state = json.loads(json.dumps(unit.state_dict()))
    assert state and all(value is not None for value in state.values())
    fresh = tiny_trainer(tmp_path / "fresh", recipe, **overrides)
    twin = next(t for t in fresh.techniques.all() if t.name == technique.name)
    assert twin.state_dict() != state
    twin.load_state_dict(state)
    assert twin.state_dict() == state


def test_a_lecam_run_resumes_with_its_averages(tmp_path):
    from steadygan.train import Trainer

    straight = tiny_trainer(tmp_path / "straight", "dcgan", **{"regularize.lecam": 0.3, "train.steps": 4})
    straight.fit()
    first = tiny_trainer(tmp_path / "resumed", "dcgan", **{"regularize.lecam": 0.3, "train.steps": 4})
    first.callbacks.append(lambda t: t.request_stop() if t.step == 2 else None)
    first.fit()
    resumed = Trainer.resume(tmp_path / "resumed", progress=False, tensorboard=False)
    assert resumed.techniques.state_dict()["lecam"] == first.techniques.state_dict()["lecam"]
    resumed.fit()
    for a, b in zip(straight.D.parameters(), resumed.D.parameters(), strict=True):
        assert torch.equal(a, b)


def test_dcgan_batch_norm_under_spectral_norm_is_a_setting(tmp_path):
    def batch_norms(**overrides):
        trainer = tiny_trainer(tmp_path / str(len(list(tmp_path.iterdir()))), "dcgan",
                               **{"model.spectral_norm": True, **overrides})
        return sum(isinstance(m, nn.BatchNorm2d) for m in trainer.D.modules())

    assert batch_norms() == 0 and batch_norms(**{"model.d_norm": "batch"}) > 0
    with pytest.raises(ConfigError, match=r"model.arch=sngan_cnn has no D normalization to choose"):
        tiny_trainer(tmp_path / "sngan", "sngan", **{"model.d_norm": "batch"})


def imports(path: Path) -> set[str]:
    """The steadygan modules a file imports, as dotted names relative to the package."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            found.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("steadygan"):
            found.add(node.module)
    return {name.removeprefix("steadygan").lstrip(".") for name in found}


def test_layers_point_one_way():
    modules = {path: imports(path) for path in PACKAGE.rglob("*.py")}

    def of(folder_or_module: str) -> dict[Path, set[str]]:
        return {p: i for p, i in modules.items()
                if p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".").startswith(folder_or_module)}

    assert of("config")[PACKAGE / "config.py"] <= {"errors"}  # config is a leaf
    for path, imported in of("storage").items():  # storage sits below training, metrics and generation
        assert imported <= {"config", "errors", "kinds", "storage", "storage.atomic"}, path
    below_training = ["metrics", "losses", "regularizers", "objectives", "augment", "ada", "growth", "technique",
                      "optimizers", "speed", "models", "nn", "data", "validation", "generate", "sampling", "styles"]
    for prefix in below_training:
        for path, imported in of(prefix).items():
            assert not any(name == "train" or name.startswith("train.") for name in imported), path
            assert "Trainer" not in path.read_text(), path  # units get narrow inputs, never the trainer
    for unit in ("ema", "doctor", "evaluation", "step", "batches", "state"):
        assert "Trainer" not in (PACKAGE / "train" / f"{unit}.py").read_text(), unit
    commands = {"cli", "data_report", "run_list", "export"}  # the application layer's command modules
    for path, imported in modules.items():
        if path.relative_to(PACKAGE).with_suffix("").as_posix() not in {*commands, "__init__", "__main__"}:
            assert not imported & commands, path  # nothing below the application layer uses a command


def test_the_techniques_command_prints_the_catalog(capsys):
    from steadygan.cli import main

    assert main(["techniques"]) == 0
    out = capsys.readouterr().out
    assert "lecam: D step, after D step; keeps state in checkpoints" in out
    assert "regularize.lecam_decay = 0.99 (a number, in [0, 1)): decay of LeCam's moving averages" in out
