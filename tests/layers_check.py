#!/usr/bin/env python3
"""Fails when a part of src/ includes a header of a part it does not declare.

The parts and what each may use are declared once, with handoff_part() in the top-level
CMakeLists.txt, which writes them to the build's layers.txt ("name: lower parts"). A part may
include its own headers, the public ones (<handoff/...>) and those of the parts it names.

    layers_check.py SRC_DIR LAYERS_FILE
"""

import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_]+)/[^"]+"', re.MULTILINE)
NOT_PARTS = {"main"}  # handoff_main's main(): links the whole library


def main() -> int:
    src = pathlib.Path(sys.argv[1])
    allowed = {}
    for line in pathlib.Path(sys.argv[2]).read_text().splitlines():
        name, _, lower = line.partition(":")
        allowed[name.strip()] = set(lower.split())
    problems = []
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        part = folder.name
        if part in NOT_PARTS:
            continue
        if part not in allowed:
            problems.append(f"src/{part}/ is not a part: declare it with handoff_part()")
            continue
        for file in sorted(folder.rglob("*")):
            if file.suffix not in (".h", ".cc"):
                continue
            text = file.read_text(errors="replace")
            for match in INCLUDE.finditer(text):
                used = match.group(1)
                if used == part or used == "handoff" or used in allowed[part]:
                    continue
                line = text.count("\n", 0, match.start()) + 1
                rel = file.relative_to(src.parent)
                if used in allowed:
                    problems.append(f"{rel}:{line}: part {part} includes {used}/, which it does "
                                    f"not declare (it may use: {', '.join(sorted(allowed[part])) or 'nothing'})")
                else:
                    problems.append(f"{rel}:{line}: includes {used}/, which is not a part")
    for p in problems:
        print(p)
    print(f"layers: {len(allowed)} parts checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
