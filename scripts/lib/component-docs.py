"""Splits a GitLab CI/CD component template (a `spec:` header document, then the jobs) so that
schema checkers that read one YAML document per file can check both parts:

    python3 component-docs.py TEMPLATE OUTDIR

writes OUTDIR/<name>.header.yml (the `spec:` document as it is) and OUTDIR/<name>.jobs.yml (the
jobs with every `$[[ inputs.NAME ]]` replaced by the input's default, or by a placeholder of its
type when it has none, as GitLab interpolates them: a value that is only the interpolation takes
the input's type). An input used but not declared, or declared but never used, is an error
(exit 1).
Uses ruamel.yaml, which check-jsonschema installs.
"""

import pathlib
import re
import sys

from ruamel.yaml import YAML

PATTERN = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
PLACEHOLDER = {"string": "placeholder", "boolean": False, "number": 0, "array": []}


def main() -> int:
    template, outdir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    yaml = YAML(typ="safe")
    docs = list(yaml.load_all(template.read_text()))
    if len(docs) != 2 or "spec" not in (docs[0] or {}):
        print(f"{template}: expected a spec: header document and a jobs document", file=sys.stderr)
        return 1
    inputs = docs[0]["spec"].get("inputs") or {}
    values = {}
    for name, decl in inputs.items():
        decl = decl or {}
        kind = decl.get("type", "string")
        values[name] = decl["default"] if "default" in decl else PLACEHOLDER[kind]
    unknown = []
    used = set()

    def interpolate(node):
        if isinstance(node, dict):
            return {interpolate(k): interpolate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [interpolate(v) for v in node]
        if isinstance(node, str):
            used.update(PATTERN.findall(node))
            whole = PATTERN.fullmatch(node.strip())
            if whole:
                if whole.group(1) not in values:
                    unknown.append(whole.group(1))
                    return node
                return values[whole.group(1)]

            def one(m):
                if m.group(1) not in values:
                    unknown.append(m.group(1))
                    return m.group(0)
                return str(values[m.group(1)])

            return PATTERN.sub(one, node)
        return node

    jobs = interpolate(docs[1])
    if unknown:
        print(f"{template}: inputs used but not declared: {', '.join(sorted(set(unknown)))}",
              file=sys.stderr)
        return 1
    unused = set(values) - used
    if unused:
        print(f"{template}: inputs declared but never used: {', '.join(sorted(unused))}",
              file=sys.stderr)
        return 1
    outdir.mkdir(parents=True, exist_ok=True)
    out = YAML()
    out.default_flow_style = False
    with open(outdir / f"{template.stem}.header.yml", "w") as f:
        out.dump(docs[0], f)
    with open(outdir / f"{template.stem}.jobs.yml", "w") as f:
        out.dump(jobs, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
