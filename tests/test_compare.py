"""steadygan compare: the same image budget for every variant, matched evaluations and grids, a resumable
run, and a self-contained report that renders in a real browser."""

import json
import re
import subprocess

import numpy as np
import pytest
from PIL import Image

from helpers import chromium
from steadygan.cli import main
from steadygan.compare import Variant, compare, parse_budget, parse_variants
from steadygan.compare.runner import MatchedImages, plan_comparison, variant_state
from steadygan.errors import ConfigError
from steadygan.growth import images_shown
from steadygan.train import Trainer
from steadygan.train.metrics_log import read_records

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=8", "train.log_every=2",
        "train.num_samples=8", "doctor.monitor_samples=16", "train.checkpoint_every=1000"]
RUN = {"data": "digits", "recipes": "dcgan,wgan-gp+optim.n_dis=2", "budget": 160, "overrides": TINY, "resolution": 16,
           "eval_n": 50, "points": 2, "progress": False}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEADYGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        return compare(out=out, **RUN)


def test_budgets_parse_with_suffixes():
    assert parse_budget("200k") == 200_000 and parse_budget("1.5M") == 1_500_000 and parse_budget(640) == 640
    for bad in ("", "-5", "ten", "0"):
        with pytest.raises(ConfigError, match="budget"):
            parse_budget(bad)


def test_variants_parse_recipes_overrides_and_commas_inside_values():
    variants = parse_variants("sngan, dcgan+model.spectral_norm=true+regularize.diffaugment=color,translation,lsgan")
    assert variants == [Variant("sngan"), Variant("dcgan", ("model.spectral_norm=true",
                                                            "regularize.diffaugment=color,translation")),
                        Variant("lsgan")]
    assert variants[1].folder == "dcgan_model.spectral_norm=true_regularize.diffaugment=color_translation"
    with pytest.raises(ConfigError, match="no-such-recipe"):
        parse_variants("sngan,no-such-recipe")
    with pytest.raises(ConfigError, match="twice"):
        parse_variants("sngan,sngan")



def test_a_bad_variant_fails_before_any_training(tmp_path):
    with pytest.raises(ConfigError, match="not_a_field"):
        plan_comparison(parse_variants("sngan,dcgan+model.not_a_field=1"), data="digits", budget=100, out=tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match=r"different resolutions.*dcgan 16px.*give --resolution"):
        plan_comparison(parse_variants("dcgan,sngan"), data="digits", budget=100, out=tmp_path)


def test_every_variant_gets_the_same_image_budget_in_its_own_steps(tmp_path):
    plans = plan_comparison(parse_variants("dcgan,wgan-gp"), data="digits", budget=1000, out=tmp_path,
                            overrides=TINY, resolution=16, points=4)
    dcgan, wgan = plans
    assert (dcgan.steps, wgan.steps) == (125, 25)  # batch 8; WGAN-GP's n_dis=5 draws five batches per G step
    for plan in plans:
        config = plan.config
        assert images_shown(config, plan.steps) >= 1000 > images_shown(config, plan.steps - 1)
        assert plan.marks[-1] == plan.steps == config.train.eval_every == config.train.sample_every
        for k, mark in enumerate(plan.marks, 1):  # the first step at or past each quarter of the budget
            assert images_shown(config, mark) >= 250 * k > images_shown(config, mark - 1)
        assert config.train.seed == 0 and config.data.source == "digits"
    assert dcgan.marks == [32, 63, 94, 125]


def test_each_variant_is_scored_and_drawn_at_the_matched_image_counts(comparison):
    for plan in comparison.plans:
        records = read_records(plan.out_dir / "metrics.jsonl")
        assert [r["step"] for r in records if "fid" in r] == plan.marks
        assert all(np.isfinite(r["fid"]) and r["fid"] > 0 for r in records if "fid" in r)
        for step in plan.marks:
            assert Image.open(plan.out_dir / "samples" / f"step-{step:06d}.png").size[0] > 16
        assert variant_state(plan) == "done"
    assert [p.marks for p in comparison.plans] == [[10, 20], [5, 10]]


def test_markdown_table_states_the_protocol_and_the_final_scores(comparison):
    text = comparison.markdown.read_text()
    assert "160 real images" in text and "50 generated images against 1,797 real images" in text
    assert "classifier:digits" in text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ") and "variant" not in line]
    assert [r[0].strip() for r in rows] == ["dcgan", "wgan-gp+optim.n_dis=2"]
    for row, plan in zip(rows, comparison.plans, strict=True):
        final = json.loads((plan.out_dir / "evaluation.json").read_text())
        assert final["step"] == plan.steps
        assert row[1].strip() == str(plan.steps) and row[4].strip(" *") == f"{final['scores']['fid']:.4g}"
    fids = [float(r[4].strip(" *")) for r in rows]
    assert sum("**" in r[4] for r in rows) == 1 and f"**{min(fids):.4g}**" in text


def test_a_second_run_trains_nothing(comparison, monkeypatch):
    def refuse(self):
        raise AssertionError("a finished variant was trained again")

    monkeypatch.setattr(Trainer, "fit", refuse)
    again = compare(out=comparison.html.parent, **RUN)
    assert again.completed and again.markdown.read_text() == comparison.markdown.read_text()


def test_an_interrupted_variant_resumes_and_finishes(tmp_path):
    plan = plan_comparison([Variant("dcgan")], data="digits", budget=160, out=tmp_path, overrides=TINY,
                           resolution=16, eval_n=50, points=2)[0]

    def stop_at_13(trainer):
        if trainer.step == 13:
            trainer.request_stop()

    result = Trainer(plan.config, progress=False, tensorboard=False,
                     callbacks=[MatchedImages(plan.marks), stop_at_13]).fit()
    assert not result.completed and variant_state(plan) == "partial"
    done = compare(out=tmp_path, **{**RUN, "recipes": "dcgan"})
    records = read_records(plan.out_dir / "metrics.jsonl")
    assert done.completed and [r["step"] for r in records if "fid" in r] == [10, 20]
    assert [r["step"] for r in records if "d_loss" in r] == list(range(2, 21, 2))


def test_changed_settings_in_the_same_folder_are_refused(comparison):
    with pytest.raises(ConfigError, match=r"other settings \(train.steps: 20 -> 40"):
        compare(out=comparison.html.parent, **{**RUN, "budget": 320})


def test_cli_prints_the_table(comparison, capsys):
    args = ["compare", "--data", "digits", "--recipes", RUN["recipes"], "--budget", "160", "--resolution", "16",
            "--eval-n", "50", "--points", "2", "--out", str(comparison.html.parent), "--no-progress"]
    for override in TINY:
        args += ["--set", override]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| dcgan | 20 |" in out and "report.html" in out
    assert main(["compare", "--data", "digits", "--recipes", "nope", "--budget", "1k"]) == 2
    assert "unknown recipe" in capsys.readouterr().err.lower()


# ---------------------------------------------------------------------------------------------------
# the HTML in a real browser

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=10000"]

# Run inside the page once everything has loaded: what a reader would see, measured by the browser's own layout.
PROBE = """<script>
window.addEventListener('load', () => {
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const result = {
    metricRows: [...document.querySelectorAll('#metrics tbody tr')].map(tr => [...tr.cells].map(td => td.textContent)),
    plots: [...document.querySelectorAll('#curves figure')].filter(f => visible(f.querySelector('svg')))
             .map(f => f.dataset.metric),
    plotLines: document.querySelectorAll('#curves svg path').length,
    grids: [...document.querySelectorAll('#samples img')].filter(i => i.complete && i.naturalWidth > 0 && visible(i))
             .map(i => i.alt),
    findings: [...document.querySelectorAll('#findings h3')].map(h => h.textContent),
    external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))
             .filter(u => !u.startsWith('data:')),
  };
  const out = document.createElement('pre'); out.id = 'probe'; out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def test_report_renders_its_table_plots_and_grids_in_chromium(comparison, tmp_path):
    browser = chromium()
    page = tmp_path / "probe.html"
    page.write_text(comparison.html.read_text().replace("</body>", PROBE + "</body>"))
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False).stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)[1].replace("&quot;", '"'))

    assert [row[0] for row in probe["metricRows"]] == ["dcgan", "wgan-gp+optim.n_dis=2"]
    assert all(float(row[4]) > 0 for row in probe["metricRows"])
    assert {"fid", "kid", "d_loss", "g_loss", "d_acc_real", "d_acc_heldout", "g_grad_norm", "d_lipschitz",
            "diversity"} <= set(probe["plots"])
    assert probe["plotLines"] > 2 * len(probe["plots"])
    assert len(probe["grids"]) == 4  # 2 variants x 2 matched image counts, decoded and laid out
    assert probe["findings"] == ["dcgan", "wgan-gp+optim.n_dis=2"]
    assert probe["external"] == []  # self-contained: nothing to fetch

    shot = tmp_path / "report.png"
    subprocess.run([*common, "--window-size=1280,2400", f"--screenshot={shot}", comparison.html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert pixels.shape == (2400, 1280, 3)
    assert pixels.std() > 20  # not a blank page
    colourful = np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max(axis=2) > 40
    assert colourful.mean() > 0.001  # the coloured curves were drawn
