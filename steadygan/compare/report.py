"""The comparison report: one self-contained HTML file (inline SVG curves, base64 PNG grids, no network
needed to view it) and the same metrics table as Markdown."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..config import differing_settings
from ..growth import images_shown
from ..storage.atomic import write_atomic
from ..storage.checkpoint import LAST, read_meta
from ..train.doctor import Finding, diagnose
from ..train.metrics_log import read_records
from .runner import Plan, variant_state

# (record key, panel title, logarithmic y axis); a panel is drawn when any variant logged its key.
CURVES = [
    ("fid", "FID (lower is better)", False), ("kid", "KID (lower is better)", False),
    ("d_loss", "D loss", False), ("g_loss", "G loss", False),
    ("d_acc_real", "D accuracy on real training images", False), ("d_acc_fake", "D accuracy on fakes", False),
    ("d_acc_seen", "D accuracy on a fixed batch of training reals", False),
    ("d_acc_heldout", "D accuracy on held-out real images", False),
    ("d_loss_gap", "D loss gap: held-out minus training reals", False),
    ("g_grad_norm", "G gradient norm", True), ("d_grad_norm", "D gradient norm", True),
    ("d_lipschitz", "D Lipschitz estimate", True),
    ("diversity", "sample diversity (relative to real images)", False),
    ("near_duplicates", "near-duplicate sample pairs", False),
    ("sample_coverage", "share of real samples the fixed-latent samples cover", False),
    ("sample_density", "density of the fixed-latent samples among real ones", False),
    ("sample_cells", "share of the real data's cells the samples reach (points)", False),
]
LOWER_IS_BETTER = {"fid", "kid"}
HIGHER_IS_BETTER = {"is", "precision", "recall", "density", "coverage", "modes"}


@dataclass
class Summary:
    """What the report shows of one variant, read from its run folder."""

    plan: Plan
    state: str
    records: list[dict]
    scores: dict[str, float] = field(default_factory=dict)  # at the last evaluation
    protocol: dict = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.plan.variant.label

    def kimg(self, step: int) -> float:
        return images_shown(self.plan.config, step) / 1000

    def train_seconds(self) -> float:
        """Wall time of the run to its last checkpoint, over every resume (evaluations and samples included)."""
        last = self.plan.out_dir / "checkpoints" / LAST
        return float(read_meta(last).get("train_seconds", 0.0)) if last.is_file() else 0.0

    def best(self, key: str) -> tuple[float, int] | None:
        values = [(r[key], r["step"]) for r in self.records if key in r and math.isfinite(r[key])]
        return min(values) if values else None

    def grid(self, step: int) -> Path | None:
        path = self.plan.out_dir / "samples" / f"step-{step:06d}.png"
        return path if path.is_file() else None


def summarize(plan: Plan) -> Summary:
    records = read_records(plan.out_dir / "metrics.jsonl")
    summary = Summary(plan, variant_state(plan), records, findings=diagnose(records, plan.config))
    evaluation = plan.out_dir / "evaluation.json"
    if evaluation.is_file():
        latest = json.loads(evaluation.read_text())
        summary.scores, summary.protocol = latest["scores"], latest["protocol"]
    return summary


# ---------------------------------------------------------------------------------------------------
# the table, shared by the HTML and the Markdown


def score_keys(summaries: list[Summary]) -> list[str]:
    """The scores' names; a `NAME_std` is shown inside NAME's cell."""
    keys: list[str] = []
    for summary in summaries:
        keys += [k for k in summary.scores if k not in keys and not k.endswith("_std")]
    return keys


def score_cell(summary: Summary, key: str) -> str:
    if summary.state != "done":
        return "unfinished"
    if key not in summary.scores:
        return "-"
    spread = summary.scores.get(f"{key}_std")
    return f"{summary.scores[key]:.4g}" + (f" ± {spread:.3g}" if spread is not None else "")


def protocol_text(summaries: list[Summary], budget: int) -> str:
    protocols = {json.dumps({k: v for k, v in s.protocol.items() if k != "seconds"}, sort_keys=True)
                 for s in summaries if s.protocol}
    seeds = {s.plan.config.train.seed for s in summaries}
    text = (f"Each variant saw {budget:,} real images (n_dis batches per G step), seed {', '.join(map(str, seeds))}, "
            f"the same data and the same held-out split. Scores are of the EMA generator at the end of training, "
            f"from the same latents for every variant")
    if len(protocols) == 1:
        p = json.loads(protocols.pop())
        text += (f": {p['generated']:,} generated images against {p['real']:,} real images of {p['reference']}, "
                 f"features from {p['extractor']}.")
    elif protocols:
        text += "; the variants were scored with different protocols (see each run's evaluation.json)."
    else:
        text += "."
    return text


def table_rows(summaries: list[Summary]) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Header, cells and which cells are the best of their column."""
    keys = score_keys(summaries)
    header = ["variant", "steps", "kimg", "train min", *keys, "best FID (kimg)", "doctor"]
    rows, best = [], []
    for s in summaries:
        best_fid = s.best("fid")
        rows.append([
            s.label, f"{s.plan.steps:,}", f"{s.kimg(s.plan.steps):.0f}", f"{s.train_seconds() / 60:.1f}",
            *[score_cell(s, k) for k in keys],
            f"{best_fid[0]:.4g} ({s.kimg(best_fid[1]):.0f})" if best_fid else "-",
            ", ".join(f.rule for f in s.findings) or "none"])
    winners = {}
    for k in [k for k in keys if k in LOWER_IS_BETTER | HIGHER_IS_BETTER]:
        column = [s.scores[k] for s in summaries if s.state == "done" and k in s.scores]
        if len(column) > 1:
            winners[k] = min(column) if k in LOWER_IS_BETTER else max(column)
    for s in summaries:
        flags = [s.state == "done" and k in winners and s.scores.get(k) == winners[k] for k in keys]
        best.append([False] * 4 + flags + [False, False])
    return header, rows, best


def markdown(summaries: list[Summary], title: str, budget: int) -> str:
    header, rows, best = table_rows(summaries)
    lines = [f"# {title}", "", protocol_text(summaries, budget), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, flags in zip(rows, best, strict=True):
        lines.append("| " + " | ".join(f"**{c}**" if b else c for c, b in zip(row, flags, strict=True)) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# the HTML


def _svg_plot(key: str, title: str, log_y: bool, summaries: list[Summary]) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [(s.label, [(s.kimg(r["step"]), r[key]) for r in s.records if key in r and math.isfinite(r[key])])
              for s in summaries]
    if not any(points for _, points in series):
        return None
    figure, axis = plt.subplots(figsize=(5.2, 3.0), dpi=100)
    for label, points in series:
        if points:
            axis.plot(*zip(*points, strict=True), label=label, marker="o" if len(points) < 12 else None, linewidth=1.4)
    if log_y and all(v > 0 for _, points in series for _, v in points):
        axis.set_yscale("log")
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("thousands of real images shown to D", fontsize=8)
    axis.tick_params(labelsize=8)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as <text>: no glyph ids repeated across plots
        figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; background: #e6f4e6; }
.protocol { background: #f6f6f6; padding: 0.6em 1em; border-left: 4px solid #888; }
#curves { display: flex; flex-wrap: wrap; gap: 8px; }
figure.curve { margin: 0; }
figure.curve svg { width: 520px; height: 300px; }
#samples img { width: 240px; image-rendering: pixelated; display: block; }
#samples td, #samples th { text-align: center; }
.finding-rule { font-weight: bold; }
"""


def render_html(summaries: list[Summary], title: str, budget: int) -> str:
    e = html.escape
    header, rows, best = table_rows(summaries)
    parts = [f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{e(title)}</h1>",
             f"<p class='protocol' id='protocol'>{e(protocol_text(summaries, budget))}</p>",
             "<h2>Final metrics</h2><table id='metrics'><thead><tr>",
             "".join(f"<th>{e(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row, flags in zip(rows, best, strict=True):
        parts.append("<tr>" + "".join(f"<td class='best'>{e(c)}</td>" if b else f"<td>{e(c)}</td>"
                                      for c, b in zip(row, flags, strict=True)) + "</tr>")
    parts.append("</tbody></table>")

    differing = _differing_settings(summaries)
    if differing:
        parts.append("<h2>Settings that differ</h2><table id='settings'><thead><tr><th>setting</th>"
                     + "".join(f"<th>{e(s.label)}</th>" for s in summaries) + "</tr></thead><tbody>")
        for key, values in differing:
            parts.append(f"<tr><td>{e(key)}</td>" + "".join(f"<td>{e(str(v))}</td>" for v in values) + "</tr>")
        parts.append("</tbody></table>")

    parts.append("<h2>Curves</h2><div id='curves'>")
    for key, title_text, log_y in CURVES:
        svg = _svg_plot(key, title_text, log_y, summaries)
        if svg is not None:
            parts.append(f"<figure class='curve' data-metric='{key}'>{svg}</figure>")
    parts.append("</div>")

    marks = summaries[0].plan.marks
    parts.append("<h2>Samples at matched image counts</h2><p>The same fixed latents for every variant, "
                 "drawn by the EMA generator.</p><table id='samples'><thead><tr><th>real images</th>"
                 + "".join(f"<th>{e(s.label)}</th>" for s in summaries) + "</tr></thead><tbody>")
    for k in range(len(marks)):
        cells = []
        for s in summaries:
            step = s.plan.marks[k] if k < len(s.plan.marks) else None
            grid = s.grid(step) if step is not None else None
            cells.append(f"<td><img src='{_png_data_uri(grid)}' alt='{e(s.label)} at step {step}'>"
                         f"step {step:,}</td>" if grid else "<td>not reached</td>")
        parts.append(f"<tr><td>{summaries[0].kimg(marks[k]):,.0f}k</td>{''.join(cells)}</tr>")
    parts.append("</tbody></table>")

    parts.append("<h2>The doctor's findings</h2><div id='findings'>")
    for s in summaries:
        parts.append(f"<h3>{e(s.label)}</h3>")
        if s.findings:
            parts.append("<ul>" + "".join(
                f"<li><span class='finding-rule'>{e(f.rule)}</span> at step {f.step:,}: {e(f.evidence)}. "
                f"Try: <code>{e(f.remedy)}</code></li>" for f in s.findings) + "</ul>")
        else:
            parts.append("<p>no known failure mode found</p>")
    parts.append("</div></body></html>\n")
    return "\n".join(parts)


def _differing_settings(summaries: list[Summary]) -> list[tuple[str, list]]:
    # the folders, and the budget in each variant's steps, differ by construction
    return differing_settings([s.plan.config for s in summaries],
                              skip=("train.out_dir", "train.steps", "train.eval_every", "train.sample_every"))


def write_report(out: Path, plans: list[Plan], *, title: str, budget: int) -> tuple[Path, Path]:
    summaries = [summarize(plan) for plan in plans]
    page = write_atomic(out / "report.html", render_html(summaries, title, budget).encode())
    table = write_atomic(out / "report.md", markdown(summaries, title, budget).encode())
    return page, table
