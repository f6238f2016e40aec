"""MkDocs hooks: the tables the pages take from the code, so that they cannot drift from it.

A page asks for one with an HTML comment on a line of its own:

- `<!-- technique: NAME [NAME ...] -->`: registered techniques (`steadygan techniques`): the phases each acts
  in, its capabilities, its summary and its config keys. Every registered technique must be on some page.
- `<!-- keys: section.key [section.key ...] -->`: config keys with their defaults, accepted values, help
  and the built-in recipes that change them.
- `<!-- config: SECTION -->`: every key of a config section, the same way.
- `<!-- help: COMMAND -->`: the output of `steadygan COMMAND --help`.
- `<!-- catalog -->`: every registered technique with its phases and the page that describes it.
- `<!-- recipes -->`: every built-in recipe, its opening comment and its file.
- `<!-- architectures -->`: every registered `model.arch` with what it supports.
- `<!-- result: NAME -->`: bench/results/NAME.md as recorded, its headings moved below the page's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import itertools
import logging
import os
import posixpath
import re
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

from steadygan import catalog, cli, validation  # noqa: F401  (validation imports every unit: full registries)
from steadygan import config as schema
from steadygan.models import ARCHITECTURES
from steadygan.registry import SELECTIONS
from steadygan.technique import Technique

log = logging.getLogger("mkdocs.plugins.steadygan")  # a warning here fails `mkdocs build --strict`

MARKER = re.compile(r"^<!-- (technique|keys|config|help|catalog|recipes|architectures|result)(?::\s*(.*?))?\s*-->$",
                    re.M)
RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"

technique_pages: dict[str, str] = {}  # technique name -> the source path of the page that documents it
page_titles: dict[str, str] = {}  # source path -> the page's first heading


@cache
def techniques() -> dict[str, tuple[type[Technique], str, str]]:
    """name -> (class, how it is switched on, the key that selects it)."""
    return {t.name: (t, how, selector) for how, selector, group in catalog.technique_groups() for t in group}


@cache
def recipe_values() -> dict[str, dict[str, Any]]:
    """recipe -> {"section.key": value} for every key the recipe sets to other than the default (at the
    recipe's own data.resolution)."""
    default = _flat(schema.Config())
    changed = {}
    for name in schema.recipe_names():
        values = _flat(schema.load_config(name))
        changed[name] = {key: value for key, value in values.items() if value != default[key]}
    return changed


def _flat(config: schema.Config) -> dict[str, Any]:
    return {f"{section}.{key}": value for section, values in config.to_dict().items() for key, value in values.items()}


def _code(value: Any) -> str:
    """A config value as YAML would spell it, in a code span."""
    text = str(value).lower() if isinstance(value, bool) else "''" if value == "" else str(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    """Plain text for a table cell: no HTML, no cell breaks."""
    return html.escape(text, quote=False).replace("|", "\\|")


def _key_row(key: str) -> str:
    section, name = key.split(".")
    values = schema.SECTIONS[section]()
    entry = next(f for f in dataclasses.fields(values) if f.name == name)
    bounds, choices = entry.metadata.get("bounds"), entry.metadata.get("choices")
    kind = schema._describe_type(get_type_hints(type(values))[name])
    if key in SELECTIONS:  # a registered unit's name
        choices = tuple(SELECTIONS[key].names())
    accepted = kind + (f", one of {', '.join(map(str, choices))}" if choices else
                       f", {bounds.describe()}" if bounds is not None else "")
    default = schema.Config().to_dict()[section][name]
    by_value: dict[str, list[str]] = {}
    for recipe, changed in recipe_values().items():
        if key in changed:
            by_value.setdefault(_code(changed[key]), []).append(recipe)
    recipes = "; ".join(f"{value}: {', '.join(names)}" for value, names in by_value.items())
    meaning = schema._comments().get(key, "")
    return f"| `{key}` | {_code(default)} | {_cell(accepted)} | {_cell(meaning)} | {recipes or '-'} |"


def keys_table(keys: list[str]) -> str:
    for key in keys:
        section, _, name = key.partition(".")
        if section not in schema.SECTIONS or name not in get_type_hints(schema.SECTIONS[section]):
            raise ValueError(f"unknown config key {key!r}")
    head = "| key | default | accepts | meaning | recipes that change it |\n|---|---|---|---|---|"
    return "\n".join([head, *(_key_row(key) for key in keys)])


def _capabilities(technique: type[Technique]) -> list[str]:
    return [text for flag, text in ((technique.needs_second_derivative, "needs second derivatives of D"),
                                    (technique.needs_g_second_derivative, "needs second derivatives through G"),
                                    (technique.state_dict is not Technique.state_dict, "keeps state in checkpoints"),
                                    (technique.lane_separable, "trains seeds as lanes")) if flag]


def technique_block(names: list[str]) -> str:
    parts, keys = [], []
    for name in names:
        if name not in techniques():
            raise ValueError(f"no registered technique {name!r}; steadygan techniques lists them")
        technique, how, selector = techniques()[name]
        phases = ", ".join(phase.value for phase in technique.phases) or "no phase of its own"
        switch = f"selected by `{selector}={name}`" if selector else html.escape(how)
        capabilities = _capabilities(technique)
        path = f"{technique.__module__}.{technique.__qualname__}"
        parts.append(f"!!! abstract \"{name}\"\n"
                     f"    {html.escape(catalog.summary(technique), quote=False)}\n\n"
                     f"    **Switch**: {switch}. **Acts in**: {phases}."
                     + (f" **Also**: {', '.join(capabilities)}." if capabilities else "")
                     + f" **Class**: [`{technique.__qualname__}`][{path}].")
        keys += [key for key in technique.keys if key not in keys]
    return "\n\n".join(parts) + ("\n\n" + keys_table(keys) if keys else "")


def help_block(command: str) -> str:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    if command not in commands.choices:
        raise ValueError(f"no steadygan command {command!r}")
    with _columns(100):
        text = commands.choices[command].format_help()
    return f"```text\n$ steadygan {command} --help\n{text.rstrip()}\n```"


@contextlib.contextmanager
def _columns(width: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def catalog_table(page: str) -> str:
    rows = ["| technique | switched on by | acts in | capabilities | page |", "|---|---|---|---|---|"]
    for name, (technique, how, selector) in techniques().items():
        phases = ", ".join(phase.value for phase in technique.phases) or "no phase of its own"
        target = technique_pages[name]
        link = posixpath.relpath(target, posixpath.dirname(page))
        title = page_titles.get(target, target)
        switch = f"`{selector}={name}`" if selector else _cell(how)
        rows.append(f"| `{name}` | {switch} | {phases} | {', '.join(_capabilities(technique)) or '-'} | "
                    f"[{title}]({link}) |")
    return "\n".join(rows)


def recipes_block() -> str:
    parts = []
    for name in schema.recipe_names():
        path = schema.recipe_path(name)
        comment = itertools.takewhile(lambda line: line.startswith("#"), path.read_text().splitlines())
        summary = html.escape(" ".join(line.lstrip("# ") for line in comment), quote=False)
        parts.append(f"### `{name}`\n\n{summary}\n\n??? note \"steadygan/recipes/{name}.yaml\"\n\n"
                     f"    ```yaml\n" + "".join(f"    {line}\n" for line in path.read_text().splitlines())
                     + "    ```")
    return "\n\n".join(parts)


def architectures_table() -> str:
    rows = ["| `model.arch` | what | data | resolutions | also takes |", "|---|---|---|---|---|"]
    for name, arch in ARCHITECTURES.items():
        extras = [text for flag, text in ((arch.progressive, "progressive growth"),
                                          (arch.style_based, "style mixing, path length, truncation in w"),
                                          (arch.attention, "`model.attention`"),
                                          (len(arch.stem_strides) > 1, "`model.d_stem_stride=2`"),
                                          (arch.output != "logits", "the `began` loss only")) if flag]
        sizes = ", ".join(map(str, arch.resolutions)) if arch.data_kind == "image" else "2-D points"
        rows.append(f"| `{name}` | {_cell(arch.summary)} | {arch.data_kind} | {sizes} | {', '.join(extras) or '-'} |")
    return "\n".join(rows)


def result_block(name: str) -> str:
    path = RESULTS / f"{name}.md"
    if not path.is_file():
        raise ValueError(f"no recorded result {path}")
    text = re.sub(r"^(#+) ", lambda m: "#" * min(len(m[1]) + 2, 6) + " ", path.read_text(), flags=re.M)
    return f"*Recorded in `bench/results/{name}.md`:*\n\n{text}"


def on_files(files: Any, config: Any) -> Any:
    """Find the page of every technique before any page is rendered, for the catalog's links."""
    technique_pages.clear()
    page_titles.clear()
    recipe_values.cache_clear()  # `mkdocs serve` rebuilds in one process
    for file in files.documentation_pages():
        text = file.content_string
        if heading := re.search(r"^# (.+)$", text, re.M):
            page_titles[file.src_uri] = heading[1].strip()
        for kind, args in MARKER.findall(text):
            if kind == "technique":
                for name in args.split():
                    technique_pages.setdefault(name, file.src_uri)
    for name in techniques():
        if name not in technique_pages:
            log.warning("technique %r is on no page: add <!-- technique: %s --> to the page that describes it",
                        name, name)
            technique_pages[name] = "techniques/index.md"
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def render(match: re.Match) -> str:
        kind, args = match[1], (match[2] or "").split()
        try:
            if kind == "technique":
                return technique_block(args)
            if kind == "keys":
                return keys_table(args)
            if kind == "config":
                (section,) = args
                return keys_table([f"{section}.{f.name}" for f in dataclasses.fields(schema.SECTIONS[section])])
            if kind == "help":
                return help_block(args[0])
            if kind == "catalog":
                return catalog_table(page.file.src_uri)
            if kind == "architectures":
                return architectures_table()
            if kind == "result":
                return result_block(args[0])
            return recipes_block()
        except (ValueError, KeyError, StopIteration) as exc:
            log.warning("%s: %s", page.file.src_uri, exc)
            return ""

    return MARKER.sub(render, markdown)
