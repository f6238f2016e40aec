"""`steadygan runs` and the model card every run folder gets: states, steps, best scores, wall time and the
doctor's findings against what each run's own files say, read by the test."""

import json
import math
import re

import pytest
import torch

from helpers import tiny_config, tiny_trainer
from steadygan import cli
from steadygan.config import load_config
from steadygan.errors import SteadyganWarning, TrainingDiverged
from steadygan.run_folder import MODEL_CARD_MARK, RunFolder
from steadygan.storage.checkpoint import read_meta
from steadygan.train import Trainer

TINY = {"train.steps": 6, "train.log_every": 1}


def poison_after(step):
    """A callback that makes G's weights NaN after `step`, as a diverging run's become."""
    def callback(trainer):
        if trainer.step == step:
            with torch.no_grad():
                for p in trainer.G.parameters():
                    p.fill_(math.nan)
    return callback


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Under one folder: a finished run scored during training (made by the command line, so its recipe is
    recorded), a stopped one in a sub-folder, and one that diverged out of rollbacks."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEADYGAN_CACHE", str(root.parent / "cache"))
        make_runs(root)
    return root


def make_runs(root):
    assert cli.main(["train", "--recipe", "dcgan", "--out", str(root / "scored"), "--no-progress", "--no-tensorboard",
                     "--steps", "4", "model.g_width=8", "model.d_width=8", "optim.batch_size=8",
                     "train.log_every=1", "train.eval_every=2", "train.eval_metrics=fid,kid",
                     "train.eval_n=40"]) == 0
    stopped = tiny_trainer(root / "group" / "stopped", "dcgan", **TINY)
    stopped.callbacks.append(lambda t: t.request_stop() if t.step == 2 else None)
    stopped.fit()
    diverged = tiny_trainer(root / "diverged", "dcgan", **TINY, **{"doctor.max_rollbacks": 0})
    diverged.callbacks.append(poison_after(1))
    with pytest.raises(TrainingDiverged):
        diverged.fit()


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def listed(capsys, *args):
    assert cli.main(["runs", *map(str, args), "--json"]) == 0
    return {row["run"]: row for row in json.loads(capsys.readouterr().out)}


def test_runs_lists_every_run_with_its_state_steps_scores_and_time(runs, capsys):
    rows = listed(capsys, runs)
    assert set(rows) == {str(runs / "scored"), str(runs / "group" / "stopped"), str(runs / "diverged")}

    scored = rows[str(runs / "scored")]
    meta = read_meta(runs / "scored")
    logged = records(runs / "scored")
    fids = [(r["fid"], r["step"]) for r in logged if "fid" in r]
    kids = [(r["kid"], r["step"]) for r in logged if "kid" in r]
    assert len(fids) == 2  # steps 2 and 4
    assert scored["state"] == "finished" and scored["step"] == scored["steps"] == 4
    assert scored["recipe"] == "dcgan" and scored["data"] == "digits 16px"
    assert (scored["best"]["fid"]["value"], scored["best"]["fid"]["step"]) == min(fids)
    assert (scored["best"]["kid"]["value"], scored["best"]["kid"]["step"]) == min(kids)
    assert scored["seconds"] == meta["train_seconds"] > 0

    stopped = rows[str(runs / "group" / "stopped")]
    assert stopped["state"] == "stopped" and (stopped["step"], stopped["steps"]) == (2, 6)
    assert stopped["best"] == {}

    diverged = rows[str(runs / "diverged")]
    last = records(runs / "diverged")[-1]
    assert diverged["state"] == "diverged" and last["diverged"] == 0  # no rollback was allowed
    assert diverged["step"] == last["step"] == 2 and read_meta(runs / "diverged")["step"] == 0
    assert diverged["findings"] == 1  # the divergence rule; the others need more logs than two


def test_a_run_being_trained_shows_as_running(runs, capsys):
    folder = RunFolder.claim(runs / "group" / "stopped", fresh=False)  # the lock a training process holds
    try:
        assert listed(capsys, runs / "group")[str(runs / "group" / "stopped")]["state"] == "running"
    finally:
        folder.release()
    assert listed(capsys, runs / "group")[str(runs / "group" / "stopped")]["state"] == "stopped"


def test_the_table_and_its_errors(runs, capsys, tmp_path):
    assert cli.main(["runs", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["run", "recipe", "data", "step", "state"]
    assert re.search(r"^group/stopped\s+-\s+digits 16px\s+2 of 6\s+stopped", "\n".join(lines), re.M)
    assert re.search(r"^scored\s+dcgan\s+digits 16px\s+4 of 4\s+finished", "\n".join(lines), re.M)
    assert cli.main(["runs", str(tmp_path)]) == 0 and "no runs under" in capsys.readouterr().out
    assert cli.main(["runs", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steadygan: error: ") and err.count("\n") == 1 and "is not a folder" in err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.yaml").write_text("model: [unclosed")
    row = listed(capsys, tmp_path)[str(tmp_path / "broken")]
    assert row["state"] == "unreadable" and "not valid YAML" in row["problem"]


# ---------------------------------------------------------------------------------------------------
# the model card


def card(run):
    return (run / "README.md").read_text()


def test_the_model_card_of_a_finished_run(runs):
    run = runs / "scored"
    text = card(run)
    assert text.splitlines()[0] == MODEL_CARD_MARK
    recipe = load_config("dcgan")
    assert f"**finished** at step 4 of 4: {4 * 8 * recipe.optim.n_dis:,} real images shown to D" in text
    for key, value in [("model.g_width", 8), ("model.d_width", 8), ("optim.batch_size", 8), ("train.steps", 4)]:
        section, name = key.split(".")
        assert f"| {key} | `{getattr(getattr(recipe, section), name)}` | `{value}` |" in text
    assert "| images | 1,797 (35 of them held out" in text  # 2% of the digits
    evaluation = json.loads((run / "evaluation.json").read_text())
    fids = [r["fid"] for r in records(run) if "fid" in r]
    assert f"| fid | {evaluation['scores']['fid']:.4g} | {min(fids):.4g} (" in text
    assert f"{evaluation['protocol']['generated']:,} images of the EMA generator" in text
    newest = max((run / "samples").glob("step-*.png"))
    assert f"](samples/{newest.name})" in text
    for command in ("steadygan sample", "steadygan train --resume", "steadygan export"):
        assert f"{command} {run}" in text


def test_the_model_card_on_a_stop_and_on_divergence(runs):
    stopped = card(runs / "group" / "stopped")
    assert "**stopped** at step 2 of 6" in stopped and "The recipe was not recorded" in stopped
    assert f"steadygan train --resume {runs / 'group' / 'stopped'}   # continue" in stopped
    diverged = card(runs / "diverged")
    assert "**diverged**" in diverged and "- divergence (step 2)" in diverged


def test_the_recipe_is_recorded_and_a_resumed_run_updates_its_card(runs, tmp_path):
    assert read_meta(runs / "scored")["recipe"] == "dcgan"
    first = Trainer(tiny_config(tmp_path / "run", "dcgan", **TINY), progress=False, tensorboard=False,
                    recipe="dcgan")
    first.callbacks.append(lambda t: t.request_stop() if t.step == 3 else None)
    first.fit()
    assert "**stopped** at step 3 of 6" in card(tmp_path / "run")
    Trainer.resume(tmp_path / "run", progress=False, tensorboard=False).fit()
    assert read_meta(tmp_path / "run")["recipe"] == "dcgan"
    assert "**finished** at step 6 of 6" in card(tmp_path / "run") and "`dcgan`, with these" in card(tmp_path / "run")


def test_a_readme_of_yours_is_never_replaced(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "README.md").write_text("# my notes on this run\n")
    with pytest.warns(SteadyganWarning, match="was not written by steadygan train"):
        tiny_trainer(out, "dcgan", **TINY).fit()
    assert (out / "README.md").read_text() == "# my notes on this run\n"
    with pytest.warns(SteadyganWarning):  # nor under --overwrite, which deletes the run's own outputs
        Trainer(tiny_config(out, "dcgan", **TINY), progress=False, tensorboard=False, overwrite=True).fit()
    assert (out / "README.md").read_text() == "# my notes on this run\n"


def test_overwrite_removes_the_earlier_runs_card(tmp_path):
    out = tmp_path / "run"
    tiny_trainer(out, "dcgan", **TINY).fit()
    assert card(out).startswith(MODEL_CARD_MARK)
    again = Trainer(tiny_config(out, "dcgan", **{**TINY, "train.steps": 2}), progress=False, tensorboard=False,
                    overwrite=True)
    assert not (out / "README.md").exists()  # gone with the run it described, until this one ends
    again.fit()
    assert "**finished** at step 2 of 2" in card(out)
