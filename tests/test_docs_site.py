"""The documentation site: `mkdocs build --strict` with no warning, the tables it takes from the code, and the
built site served on localhost and opened in headless Chromium, which must render the navigation and load the
search index without a single request to another host."""

import functools
import http.server
import importlib.util
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers import chromium
from steadygan.catalog import technique_groups
from steadygan.cli import build_parser
from steadygan.config import SECTIONS, recipe_names
from steadygan.train.doctor import RULES

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' (scripts/test.sh does)")
    out = tmp_path_factory.mktemp("docs") / "site"
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                            "-d", str(out)], capture_output=True, text=True, timeout=600, check=False,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stdout + built.stderr
    warnings = [line for line in built.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert warnings == []
    return out


def page_text(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text()


def test_getting_started_has_the_readme_set_up_commands_verbatim():
    readme = (ROOT / "README.md").read_text()
    commands = re.search(r"## Set up and run\n\n```bash\n(.*?)```", readme, re.S)[1]
    assert commands in (ROOT / "docs" / "getting-started.md").read_text()


def test_every_registered_technique_key_recipe_rule_and_command_is_on_the_site(site):
    catalog = page_text(site, "techniques")
    for _, _, techniques in technique_groups():
        for technique in techniques:
            assert f"<code>{technique.name}</code>" in catalog
    keys = page_text(site, "configuration/keys")
    for section, values in SECTIONS.items():
        for key in values.__dataclass_fields__:
            assert f"<code>{section}.{key}</code>" in keys
    recipes = page_text(site, "configuration/recipes")
    for name in recipe_names():
        assert f"steadygan/recipes/{name}.yaml" in recipes
    doctor = page_text(site, "guides/doctor")
    for rule in RULES.names():
        assert f"<code>{rule}</code>" in doctor
    helps = "".join(path.read_text() for path in site.rglob("*.html"))
    commands = next(action for action in build_parser()._actions if action.dest == "command").choices
    for command in commands:
        assert f"$ steadygan {command} --help" in helps


def test_every_technique_page_cites_its_paper_on_arxiv(site):
    pages = [path.parent.name for path in (site / "techniques").glob("*/index.html")]
    assert len(pages) >= 25
    without_paper = {"d-stem-stride"}  # steadygan's own switch
    for page in sorted(set(pages) - without_paper):
        assert "https://arxiv.org/abs/" in page_text(site, f"techniques/{page}"), page


def test_no_page_loads_anything_from_another_host(site):
    loads = re.compile(r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"([^\"]+)\"|<link\b[^>]*\bhref=\"([^\"]+)\"")
    for path in site.rglob("*.html"):
        for match in loads.finditer(path.read_text()):
            url = match[1] or match[2]
            assert not re.match(r"(https?:)?//", url), f"{path.relative_to(site)} loads {url}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def served(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_navigation_and_search_load_in_chromium_from_localhost_alone(served, tmp_path):
    browser = chromium()
    if importlib.util.find_spec("playwright") is None:
        if os.environ.get("STEADYGAN_REQUIRE_BROWSER"):
            pytest.fail("playwright is not installed; pip install -e '.[docs]' (scripts/test.sh does)")
        pytest.skip("playwright is not installed: pip install -e '.[docs]' (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    origin = urlsplit(served).netloc
    requested: list[str] = []
    loaded: dict[str, int] = {}

    def foreign(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme not in ("data", "blob", "about") and parts.netloc != origin

    def finished(request) -> None:
        response = request.response()
        loaded[urlsplit(request.url).path] = response.status if response else 0

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=browser, headless=True, args=CHROMIUM_FLAGS)
        try:
            context.on("request", lambda request: requested.append(request.url))
            context.on("requestfinished", finished)
            context.route(foreign, lambda route: route.abort())  # recorded above, never sent
            page = context.new_page()

            page.goto(f"{served}/", wait_until="networkidle")
            assert page.title() == "steadygan"
            nav = page.locator("nav.md-nav--primary a.md-nav__link").all_text_contents()
            titles = {" ".join(text.split()) for text in nav}
            assert {"Getting started", "Your own images", "All techniques", "R1 and R2", "Every key",
                    "What was measured", "Architecture", "The package"} <= titles
            # A query typed before the search worker has built its index can go unanswered: wait for the
            # search box to say it is ready, then type as a user does.
            page.focus("input.md-search__input")
            page.wait_for_function("document.querySelector('.md-search-result__meta').textContent"
                                   ".includes('Type to start')", timeout=30_000)
            page.keyboard.type("spectral normalization")
            page.wait_for_selector(".md-search-result__item", timeout=30_000)  # the worker has the index
            assert page.locator(".md-search-result__item").count() > 0
            assert loaded.get("/search/search_index.json") == 200

            page.goto(f"{served}/techniques/r1-r2/", wait_until="networkidle")
            assert page.locator("article h1").inner_text().replace("¶", "").strip() == "R1 and R2"
            assert page.locator("nav.md-nav--primary a.md-nav__link--active").first.inner_text().strip() == "R1 and R2"
            assert page.locator("article table code", has_text="regularize.r1_interval").count() >= 1
            assert page.locator("article a[href*='arxiv.org/abs/1801.04406']").count() == 1
        finally:
            context.close()

    assert requested, "the browser made no request at all"
    assert [url for url in requested if foreign(url)] == []
