"""``edge-refarch docs``: the site's toolchain and its browser check."""

from __future__ import annotations

from pathlib import Path


def add_parser(areas, parser_class) -> None:
    dp = areas.add_parser("docs", help="the documentation site")
    cmds = dp.add_subparsers(dest="command", required=True,
                             parser_class=parser_class)
    cmds.add_parser("install", help="install graphviz, chromium and "
                                    "mermaid-cli when missing")
    ck = cmds.add_parser("check", help="open every page in headless "
                                       "chromium")
    ck.add_argument("build", nargs="?", default="doc/build/html")
    ck.add_argument("--screenshots", default="doc/build/screenshots")


def run(args, model, say) -> int:
    if args.command == "install":
        from edge_refarch.validation.docs.install import ensure
        print(f"mermaid-cli: {ensure(say)}")
        return 0
    from edge_refarch.validation.docs.check import check
    stats = check(Path(args.build), Path(args.screenshots), say)
    labels = stats["labels"]
    smallest = min(labels.items(), key=lambda kv: kv[1][0], default=None)
    print(f"site check passed: {stats['pages']} pages, {stats['images']} "
          f"images, {stats['diagrams']} SVG diagrams, {stats['svgs']} inline"
          f" SVGs, {stats['links']} internal links; smallest diagram label "
          + (f"{smallest[1][0]} CSS px ({smallest[0]})" if smallest
             else "none")
          + f"; screenshots and labels.json in {args.screenshots}")
    return 0
