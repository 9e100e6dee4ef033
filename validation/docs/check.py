"""Check the built site in a real headless Chromium.

Serves the build over HTTP on 127.0.0.1, opens every page in Debian's
chromium (driven by Playwright, never its own browser download) at a
1280 x 900 CSS px window, and fails on: a JavaScript console error or page
error, a broken internal link, an image that did not load or is empty, an
inline SVG without content, a diagram or plot that is not SVG (its labels
cannot be measured), and a diagram whose smallest label renders below
MIN_LABEL_PX CSS px at that window. Saves a full-page screenshot of every
page and the smallest label of every diagram (``labels.json`` next to the
screenshots).
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import urllib.parse
from pathlib import Path

from edge_refarch.validation.errors import UserError, first_line

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


VIEWPORT = {"width": 1280, "height": 900}
# The smallest label a diagram may show at VIEWPORT, in CSS px.
MIN_LABEL_PX = 9.0

# Smallest rendered label of an SVG root: for every element holding text
# (SVG <text>/<tspan>, or HTML inside a <foreignObject> as Mermaid draws
# labels), its computed font size times the scale from its user units to
# CSS px (getScreenCTM); returns [px, text] or null when it has no text.
_SMALLEST_LABEL_JS = """
(svg) => {
  let best = null;
  for (const el of svg.querySelectorAll('text, tspan, foreignObject *')) {
    const own = Array.from(el.childNodes).filter(c => c.nodeType === 3)
      .map(c => c.textContent).join('').trim();
    if (!own) continue;
    const tag = el.tagName.toLowerCase();
    const host = (tag === 'text' || tag === 'tspan') ? el
      : el.closest('foreignObject');
    const box = el.getBoundingClientRect();
    if (!host || !host.getScreenCTM || box.width === 0) continue;
    const m = host.getScreenCTM();
    if (!m) continue;
    const scale = Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
    const style = el.ownerDocument.defaultView.getComputedStyle(el);
    const px = parseFloat(style.fontSize) * scale;
    if (best === null || px < best[0]) best = [px, own.slice(0, 40)];
  }
  return best;
}
"""

# An <img> of an SVG is opaque to the page: fetch it and measure a copy
# laid out at the image's rendered size, off screen.
_IMG_LABEL_JS = """
async (img) => {
  const measure = """ + _SMALLEST_LABEL_JS.strip() + """;
  const r = img.getBoundingClientRect();
  const text = await (await fetch(img.src)).text();
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = document.importNode(doc.documentElement, true);
  const box = document.createElement('div');
  box.style.cssText = 'position:absolute;left:-20000px;top:0';
  svg.setAttribute('width', r.width + 'px');
  svg.setAttribute('height', r.height + 'px');
  box.appendChild(svg);
  document.body.appendChild(box);
  try { return measure(svg); } finally { box.remove(); }
}
"""

# An <object>'s SVG document, measured where it is shown.
_OBJECT_LABEL_JS = """
(obj) => {
  const measure = """ + _SMALLEST_LABEL_JS.strip() + """;
  const doc = obj.contentDocument;
  return doc && doc.documentElement ? measure(doc.documentElement) : null;
}
"""


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
             "links": 0, "labels": {}}
    checked_links: set[str] = set()
    try:
        with sync_playwright() as pw:
            try:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=CHROMIUM_ARGS)
            except PWError as exc:
                raise UserError(f"cannot start {CHROMIUM}: "
                                f"{first_line(exc)}") from None
            page = browser.new_page(viewport=VIEWPORT)
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
                _measure_labels(page, rel, stats["labels"], problems)
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
    (shots / "labels.json").write_text(json.dumps(
        stats["labels"], indent=1, sort_keys=True) + "\n")
    if problems:
        raise UserError(f"site check: {len(problems)} problem(s); first: "
                        f"{problems[0]}")
    return stats


def _measure_labels(page, rel: str, labels: dict, problems: list) -> None:
    """The smallest label of every content image and SVG object of the
    open page, into `labels` ({"page: file": [px, text]}); a raster
    content image or a label below MIN_LABEL_PX is a problem."""
    found = []
    for img in page.query_selector_all("img"):
        src = img.get_attribute("src") or ""
        if "_images/" not in src:
            continue   # the theme's own logos and icons
        name = src.rsplit("/", 1)[-1]
        if not name.lower().endswith(".svg"):
            problems.append(f"{rel}: {name} is a raster image; diagrams and "
                            "plots must be SVG so that their labels can be "
                            "measured")
            continue
        found.append((name, img.evaluate(_IMG_LABEL_JS)))
    for obj in page.query_selector_all('object[type="image/svg+xml"]'):
        name = (obj.get_attribute("data") or "").rsplit("/", 1)[-1]
        found.append((name, obj.evaluate(_OBJECT_LABEL_JS)))
    for name, smallest in found:
        if smallest is None:
            continue   # no text at all (an icon): nothing to read
        px, text = round(float(smallest[0]), 1), smallest[1]
        labels[f"{rel}: {name}"] = [px, text]
        if px < MIN_LABEL_PX:
            problems.append(f"{rel}: {name}: the label {text!r} renders at "
                            f"{px} CSS px at a {VIEWPORT['width']} px "
                            f"window (at least {MIN_LABEL_PX:g} needed)")
