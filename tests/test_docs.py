"`make docs` builds an offline site that renders in headless Chromium, with no broken internal links."
import os
import shutil
import threading
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from datascope_nb.docs import build_docs

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    # `make test` installs Debian's chromium + chromium-driver; in CI a missing browser is a failure, not a skip.
    if os.environ.get("CI"): raise RuntimeError("chromium/chromedriver missing in CI: `make browser` should have installed them")
    pytest.skip("chromium and chromedriver not installed (sudo apt-get install chromium chromium-driver)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_docs(tmp_path_factory.mktemp("site") / "_docs")


@pytest.fixture(scope="module")
def server(site):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_home_page_renders_the_readme_and_navigates(browser, server):
    from selenium.webdriver.common.by import By
    browser.get(f"{server}/index.html")
    assert "datascope-nb" in browser.title
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text.strip() == "datascope-nb"
    link = browser.find_element(By.LINK_TEXT, "Core: records, I/O, manifests and seeds")
    link.click()
    assert browser.current_url.endswith("/00_core.html")
    assert _console_errors(browser) == []


def test_api_page_renders_reference_and_examples(browser, server):
    from selenium.webdriver.common.by import By
    browser.get(f"{server}/00_core.html")
    heading = browser.find_element(By.ID, "load_records")
    assert heading.text.strip().startswith("load_records")
    body = browser.find_element(By.TAG_NAME, "article").text
    assert "Load and validate kind records" in body.replace("`", "")
    assert "from typing import List" in body, "the HumanEval example's printed output is rendered"
    assert _console_errors(browser) == []


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
