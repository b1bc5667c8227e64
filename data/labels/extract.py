#!/usr/bin/env python3
"""Extract the label sets of Uni-Perceiver's tools/generate_target_sets.ipynb.

usage: extract.py NOTEBOOK.ipynb OUTDIR

The notebook assigns each list as a Python literal, `class_names = [...]`,
in the cell that follows its "## N. <name>" heading.  We parse the cells
with ast (no code is run) and write one label a line, in the notebook's
order, exactly as written there (the model saw them as `name + " <|endoftext|>"`).
"""
import ast
import json
import sys

# heading in the notebook -> (file, expected count)
SETS = {
    "ImageNet 1k": ("imagenet.txt", 1000),
    "Kinetics-400": ("k400.txt", 400),
    "Kinetics-700": ("k700.txt", 700),
    "Moments in time": ("moments.txt", 339),
}


def class_names_of(source):
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "class_names"
                and isinstance(node.value, ast.List)):
            return ast.literal_eval(node.value)
    return None


def main(notebook, outdir):
    cells = json.load(open(notebook, encoding="utf-8"))["cells"]
    heading = None
    found = {}
    for cell in cells:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and src.startswith("## "):
            heading = src[3:].split(".", 1)[-1].strip()
            heading = heading.removesuffix(" class names")
            continue
        if cell["cell_type"] != "code" or heading not in SETS:
            continue
        names = class_names_of(src)
        if names is not None and heading not in found:
            found[heading] = names
    for heading, (fname, count) in SETS.items():
        names = found[heading]
        if len(names) != count:
            sys.exit(f"{heading}: {len(names)} names, expected {count}")
        for n in names:
            if not isinstance(n, str) or "\n" in n or n != n.strip() or not n:
                sys.exit(f"{heading}: unusable name {n!r}")
            if n.startswith("#"):
                sys.exit(f"{heading}: {n!r} would read as a comment")
        with open(f"{outdir}/{fname}", "w", encoding="utf-8") as f:
            f.write("".join(n + "\n" for n in names))
        print(f"{fname}: {len(names)} names")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
