"""The code's shape, checked: no non-test file over 600 lines, no function over 100 lines, no
`use super::*` outside tests, no two files of one directory that import each other.

    python3 .ci/shape.py [src]
"""

import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"
problems = []


def code_lines(path):
    """The lines before the file's test module (`#[cfg(test)]` or `#[cfg(all(test, …))]`, then `mod`)."""
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        if re.match(r"#\[cfg\((all\()?test\b", line) and i + 1 < len(lines) and lines[i + 1].lstrip().startswith("mod "):
            return lines[:i]
    return lines


def is_test_file(path):
    name = os.path.basename(path)
    return name in ("tests.rs",) or name.endswith("_tests.rs")


def functions(lines):
    """(name, first line, length) of each function, by brace matching."""
    found = []
    pattern = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?fn\s+(\w+)")
    i = 0
    while i < len(lines):
        m = pattern.match(lines[i])
        if not m:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            text = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j])
            text = re.sub(r"'(\\.|[^'\\])'", "''", text).split("//")[0]
            for ch in text:
                if ch == "{":
                    depth += 1
                    started = True
                elif ch == "}":
                    depth -= 1
            if started and depth <= 0:
                break
            if not started and text.rstrip().endswith(";"):
                break
            j += 1
        if started:
            found.append((m.group(5), i + 1, j - i + 1))
        i += 1
    return found


def reexports(lines):
    """The names a `mod.rs` re-exports, each with the module it comes from."""
    names = {}
    for line in lines:
        m = re.match(r"\s*pub(\([^)]*\))?\s+use\s+(self::)?(\w+)::(\{[^}]*\}|\w+);", line)
        if m:
            for name in re.findall(r"\w+", m.group(4)):
                names[name] = m.group(3)
    return names


imports = {}
exported = {}
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(dirpath, name)
        lines = code_lines(path)
        if is_test_file(path):
            continue
        if len(lines) > 600:
            problems.append(f"{path}: {len(lines)} lines of code (at most 600)")
        for fname, line, length in functions(lines):
            if length > 100:
                problems.append(f"{path}:{line}: fn {fname} is {length} lines (at most 100)")
        for n, line in enumerate(lines, 1):
            if re.match(r"\s*use super::\*;", line):
                problems.append(f"{path}:{n}: use super::* outside tests")
        module = name[:-3]
        siblings = set()
        for line in lines:
            text = line.split("//")[0]
            siblings.update(re.findall(r"\bsuper::(\w+)", text))
            m = re.match(r"\s*use super::\{(.*)", text)
            if m:
                siblings.update(re.findall(r"(\w+)(?:::|,|\})", m.group(1)))
        imports[(dirpath, module)] = siblings
        if module == "mod":
            exported[dirpath] = reexports(lines)

for (dirpath, module), uses in list(imports.items()):
    names = exported.get(dirpath, {})
    imports[(dirpath, module)] = {names.get(u, u) for u in uses}

for (dirpath, module), uses in imports.items():
    for other in uses:
        back = imports.get((dirpath, other), set())
        if module in back and module < other and module != "mod" and other != "mod":
            problems.append(f"{dirpath}: {module}.rs and {other}.rs import each other")

for p in problems:
    print(p)
print(f"shape: {len(problems)} problems")
sys.exit(1 if problems else 0)
