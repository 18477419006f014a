"""`make docs` builds an offline site that renders in headless Chromium, with no broken internal links and no request
that leaves the site, also after `make paper` (the README's order): the site is built from a papers notebook executed
through `make paper`'s own code path, progress bars and all."""
import json
import os
from unittest.mock import patch
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from datascope_nb.core import write_jsonl
from datascope_nb.docs import (DOCS_SCREENSHOTS, build_docs, chromium_paths, console_errors, headless_chromium, page_report,
                               screenshot_pages, serve_site, widgets_as_text)
from datascope_nb.paper import run_papers

if not all(chromium_paths()):
    # `make test` installs Debian's chromium + chromium-driver; in CI a missing browser is a failure, not a skip.
    if os.environ.get("CI"): raise RuntimeError("chromium/chromedriver missing in CI: `make browser` should have installed them")
    pytest.skip("chromium and chromedriver not installed (sudo apt-get install chromium chromium-driver)", allow_module_level=True)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PROGRAMS = ["def add(a, b):\n    total = a + b\n    return total\n",
            "def clip(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n",
            "def mean(xs):\n    n = 0\n    s = 0\n    for x in xs:\n        n += 1\n        s += x\n    return s / n\n",
            "def first_word(text):\n    words = text.split()\n    return words[0] if words else ''\n"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """papers/lintseq run as `make paper` runs it, into a scratch home (the real runs/ is untouched), with progress bars
    on as a user sees them (CI would silence them)."""
    home = tmp_path_factory.mktemp("home")
    data = write_jsonl([{"id": f"p{i}", "instruction": f"Program {i}.", "output": code, "language": "python", "source": "test"}
                        for i, code in enumerate(PROGRAMS)], home / "programs.jsonl")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DATASCOPE_QUIET")}
    with patch.dict(os.environ, {**env, "DATASCOPE_HOME": str(home)}, clear=True):
        run_papers(only="lintseq", params={"data": str(data), "limit": len(PROGRAMS), "s": 2, "example": 0},
                   figures_dir=home / "figures")
    return home / "papers"


# The chapters whose examples take minutes are rendered without outputs here: `make test` runs every chapter's examples
# in nbdev_test just before, and executing them a second time for the site was a third of the whole test run.
SLOW_CHAPTERS = ("00b_scale.ipynb", "04a_bench.ipynb", "06_lintseq.ipynb", "08_train.ipynb", "09_evaluate.ipynb")


@pytest.fixture(scope="module")
def site(tmp_path_factory, executed) -> Path:
    return build_docs(tmp_path_factory.mktemp("site") / "_docs", executed=executed, unexecuted=SLOW_CHAPTERS)


@pytest.fixture(scope="module")
def server(site):
    with serve_site(site) as base: yield base


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium()
    yield driver
    driver.quit()


def test_home_page_renders_the_readme_and_navigates(browser, server):
    from selenium.webdriver.common.by import By
    browser.get(f"{server}/index.html")
    assert "datascope-nb" in browser.title
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text.strip() == "datascope-nb"
    link = browser.find_element(By.LINK_TEXT, "Core: records, I/O, manifests and seeds")
    link.click()
    assert browser.current_url.endswith("/00_core.html")
    assert console_errors(browser) == []


def test_api_page_renders_reference_and_examples(browser, server):
    from selenium.webdriver.common.by import By
    browser.get(f"{server}/00_core.html")
    heading = browser.find_element(By.ID, "load_records")
    assert heading.text.strip().startswith("load_records")
    body = browser.find_element(By.TAG_NAME, "article").text
    assert "Load and validate kind records" in body.replace("`", "")
    assert "from typing import List" in body, "the HumanEval example's printed output is rendered"
    assert console_errors(browser) == []


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v: self.targets.append(v)


def test_no_broken_internal_links(site):
    broken = []
    for page in sorted(site.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for t in parser.targets:
            u = urlsplit(t)
            if u.scheme or u.netloc or t.startswith(("#", "mailto:", "javascript:", "data:")): continue
            base = site if u.path.startswith("/") else page.parent  # root-absolute links resolve against the site
            target = (base / unquote(u.path.lstrip("/"))).resolve() if u.path else page
            if target.is_dir(): target = target / "index.html"
            if not target.exists(): broken.append(f"{page.relative_to(site)} -> {t}")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_every_page_loads_its_images_without_console_errors(browser, server, site):
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.name != "404.html")
    assert len(pages) >= 20, pages
    reports = [page_report(browser, f"{server}/{p}") for p in pages]
    bad = [r for r in reports if r["console_errors"] or r["broken_images"] or r["external_requests"]]
    assert not bad, "pages that do not render cleanly:\n" + "\n".join(map(str, bad))
    assert sum(r["images"] for r in reports) > 20, "the figures should appear as images somewhere"


def test_gallery_shows_every_summarised_figure(browser, server, root):
    from selenium.webdriver.common.by import By
    browser.get(f"{server}/index.html")
    browser.find_element(By.LINK_TEXT, "Gallery").click()
    assert browser.current_url.endswith("/gallery.html")
    manifest = json.loads((root / "figures" / "manifest.json").read_text())
    pngs = {n for e in manifest["notebooks"].values() for n in e["figures"] if n.endswith(".png")}
    assert pngs, "figures/manifest.json lists no figures: run `make paper`"
    rep = page_report(browser, browser.current_url)
    shown = {img.get_attribute("src").rsplit("/", 1)[-1] for img in browser.find_elements(By.CSS_SELECTOR, "article img")}
    assert pngs <= shown, f"figures missing from the gallery: {sorted(pngs - shown)}"
    assert rep["broken_images"] == [] and rep["console_errors"] == []
    body = browser.find_element(By.TAG_NAME, "article").text
    assert "Runs" in body and "parameter" in body, "each figure's parameters and manifests are shown"


def test_screenshots_show_the_rendered_pages(site, tmp_path):
    from PIL import Image, ImageStat
    shots = screenshot_pages(site, DOCS_SCREENSHOTS, tmp_path)
    assert set(shots) == set(DOCS_SCREENSHOTS)
    for name, path in shots.items():
        img = Image.open(path).convert("L")
        assert img.size[0] == 1280 and img.size[1] > 600, (name, img.size)  # the viewport: the window less its frame
        assert ImageStat.Stat(img).stddev[0] > 10, f"{name} screenshot is blank"


def test_the_executed_papers_page_loads_nothing_from_outside(executed, browser, server):
    from selenium.webdriver.common.by import By
    cells = json.loads((executed / "lintseq.ipynb").read_text())["cells"]
    assert any(WIDGET_VIEW in o.get("data", {}) for c in cells for o in c.get("outputs", [])), \
        "the executed notebook should hold progress-bar widgets, or this test checks nothing"
    rep = page_report(browser, f"{server}/papers/lintseq.html")
    assert rep["external_requests"] == [] and rep["console_errors"] == [] and rep["broken_images"] == [], rep
    body = browser.find_element(By.TAG_NAME, "article").text
    assert f"100%|██████████| {len(PROGRAMS)}/{len(PROGRAMS)}" in body, "the finished progress bar is shown as text"


def test_the_request_check_catches_a_page_that_leaves_the_site(executed, browser, tmp_path):
    """The check itself can fail: the executed notebook rendered as before the fix (widgets kept) asks a CDN for the
    widget manager, and the same notebook with its widgets as text asks for nothing outside."""
    from mkdocs_jupyter.nbconvert2 import nb2html
    raw = executed / "lintseq.ipynb"
    fixed = tmp_path / "fixed.ipynb"
    fixed.write_text(json.dumps(widgets_as_text(json.loads(raw.read_text()))))
    for name, nb in (("raw", raw), ("fixed", fixed)):  # as the site's mkdocs-jupyter renders them (no MathJax URL)
        (tmp_path / f"{name}.html").write_text(nb2html(str(nb), custom_mathjax_url=""))
    with serve_site(tmp_path) as base:
        before = page_report(browser, f"{base}/raw.html", wait_s=1)["external_requests"]
        after = page_report(browser, f"{base}/fixed.html", wait_s=1)["external_requests"]
    assert any("@jupyter-widgets/html-manager" in u for u in before), before
    assert after == [], after


def test_the_design_page_is_in_the_site_and_chapters_link_to_it(browser, server):
    from selenium.webdriver.common.by import By
    browser.get(f"{server}/00_core.html")
    browser.find_element(By.LINK_TEXT, "design page").click()
    assert browser.current_url.endswith("/design.html#record-shapes")
    body = browser.find_element(By.TAG_NAME, "article").text
    assert "Record shapes" in body and "Real components" in body
    assert console_errors(browser) == []
