#!/usr/bin/env python3
"""test_docs_links.py: every relative link in README.md, docs/*.md and the other README.md files
of the repository points at a file or directory that exists, and a link to a heading of a
Markdown file (file.md#anchor, or #anchor in the same file) names a heading that file has,
with GitHub's anchors (lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats).
Links in fenced code blocks and inline code are not links.

Usage: tests/scripts/test_docs_links.py SOURCE_ROOT
"""
import glob
import os
import re
import sys

SRC = os.path.abspath(sys.argv[1])
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
failures = []


def prose(text):
    """text without fenced blocks and inline code, line numbers kept."""
    out, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "``", line))
    return out


def anchors(path):
    seen, found, fenced = {}, set(), False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def main():
    files = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
    for readme in sorted(glob.glob(os.path.join(SRC, "**", "README.md"), recursive=True)):
        rel = os.path.relpath(readme, SRC)
        if not rel.startswith(("build", "tests/browser/node_modules", ".")) and readme not in files:
            files.append(readme)
    checked = 0
    for path in files:
        rel = os.path.relpath(path, SRC)
        for no, line in enumerate(prose(open(path, encoding="utf-8").read()), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # http:, https:, mailto:
                checked += 1
                file_part, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                if not os.path.exists(dest):
                    failures.append(f"{rel}:{no}: {target}: {os.path.relpath(dest, SRC)} does not exist")
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    failures.append(f"{rel}:{no}: {target}: no heading with anchor #{anchor} in "
                                    f"{os.path.relpath(dest, SRC)}")
    for f in failures:
        print(f"not ok - {f}")
    print(f"{checked} links in {len(files)} files checked, {len(failures)} broken")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
