"""Check the built site in a real headless Chromium.

Serves the build over HTTP on 127.0.0.1, opens every page in Debian's
chromium (driven by Playwright, never its own browser download), and fails
on: a JavaScript console error or page error, a broken internal link, an
image that did not load or is empty, an inline SVG without content. Saves a
full-page screenshot of every page.
"""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.parse
from pathlib import Path

from edge_refarch.validation.errors import UserError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def check(build: Path, shots: Path, say) -> dict:
    from playwright.sync_api import Error as PWError
    from playwright.sync_api import sync_playwright

    pages = sorted(p.relative_to(build).as_posix()
                   for p in build.rglob("*.html")
                   if not p.name.startswith(("genindex", "search"))
                   and "_static" not in p.parts and "_sources"
                   not in p.parts)
    if not pages:
        raise UserError(f"{build}: no HTML pages; build the site first")
    handler = functools.partial(_Quiet, directory=str(build))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    stats = {"pages": 0, "images": 0, "diagrams": 0, "svgs": 0,
             "links": 0}
    checked_links: set[str] = set()
    try:
        with sync_playwright() as pw:
            try:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=CHROMIUM_ARGS)
            except PWError as exc:
                raise UserError(f"cannot start {CHROMIUM}: "
                                f"{str(exc).splitlines()[0]}") from None
            page = browser.new_page(viewport={"width": 1280,
                                              "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for rel in pages:
                errors.clear()
                resp = page.goto(base + rel, wait_until="load")
                if resp is None or resp.status != 200:
                    problems.append(f"{rel}: HTTP "
                                    f"{resp.status if resp else '?'}")
                    continue
                stats["pages"] += 1
                for e in errors:
                    problems.append(f"{rel}: console error: {e[:200]}")
                imgs = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.getAttribute('src'),"
                    " e.complete, e.naturalWidth, e.naturalHeight])")
                for src, complete, w, h in imgs:
                    stats["images"] += 1
                    if not complete or w == 0 or h == 0:
                        problems.append(f"{rel}: image {src} did not "
                                        "render")
                objs = page.eval_on_selector_all(
                    "object", "els => els.map(e => { const d = "
                    "e.contentDocument, r = d && d.documentElement; "
                    "return [e.getAttribute('data'), r ? r.tagName : null,"
                    " r ? r.childElementCount : 0, "
                    "e.getBoundingClientRect().width] })")
                for data, tag, kids, width in objs:
                    stats["diagrams"] += 1
                    if (tag or "").lower() != "svg" or not kids \
                            or not width:
                        problems.append(f"{rel}: diagram {data} did not "
                                        "render (missing or empty SVG)")
                svgs = page.eval_on_selector_all(
                    "svg", "els => els.map(e => [e.getBoundingClientRect()"
                    ".width, e.childElementCount])")
                for _width, kids in svgs:
                    stats["svgs"] += 1
                    if kids == 0:
                        problems.append(f"{rel}: an empty inline SVG")
                hrefs = page.eval_on_selector_all(
                    "a[href]", "els => els.map(e => e.href)")
                for href in hrefs:
                    if not href.startswith(base):
                        continue
                    target = href.split("#")[0]
                    if target in checked_links:
                        continue
                    checked_links.add(target)
                    stats["links"] += 1
                    path = urllib.parse.urlparse(target).path.lstrip("/")
                    local = build / urllib.parse.unquote(path)
                    if local.is_dir():
                        local = local / "index.html"
                    if not local.exists():
                        problems.append(f"{rel}: broken link {href}")
                shot = shots / (rel.replace("/", "__")[:-5] + ".png")
                page.screenshot(path=str(shot), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    if problems:
        raise UserError(f"site check: {len(problems)} problem(s); first: "
                        f"{problems[0]}")
    return stats
