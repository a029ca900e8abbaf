"""The one reader of user files against what the readers did before (`yaml.safe_load`,
`json.loads`), on a DAG file at the size limit and on hostile documents.

    python -m bench.file_reader            # 3 repeats, the median of each
    python -m bench.file_reader --quick

- a YAML DAG of 1 MiB (the YAML limit): `parse_yaml` (libyaml's parser, our composer with
  its depth, alias and integer checks) against `yaml.safe_load` (pure Python, the old reader)
  and `yaml.CSafeLoader` (all C, no limits);
- the same DAG as 16 MiB of JSON (the JSON limit): `parse_json` against `json.loads`;
- hostile documents: seconds until the refusal (a billion laughs used to spin for minutes
  wherever its expansion was walked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml

from bench._report import report
from pit.common.errors import InvalidInputError
from pit.common.files import MAX_JSON_BYTES, MAX_YAML_BYTES, parse_json, parse_yaml


def dag_yaml(limit: int) -> str:
    """A DAG file just under `limit` bytes: a chain of echo nodes, the form users write."""
    lines = ["name: big", "defaults: {timeout: 1m, retry: {max_attempts: 3}}", "nodes:"]
    size, step = sum(len(line) + 1 for line in lines), 0
    while True:
        node = (
            f"  - {{id: n{step}, activity: pit.echo, depends_on: [n{step - 1}], "
            f'inputs: {{text: "step {step}", count: {step}}}}}'
            if step
            else '  - {id: n0, activity: pit.echo, inputs: {text: "first"}}'
        )
        if size + len(node) + 1 > limit:
            return "\n".join(lines) + "\n"
        lines.append(node)
        size += len(node) + 1
        step += 1


def median_seconds(work: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def refusal_seconds(text: str) -> float:
    started = time.perf_counter()
    try:
        parse_yaml(text, "hostile.yaml")
    except InvalidInputError:
        return time.perf_counter() - started
    raise AssertionError("a hostile document was accepted")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    repeats = 1 if parser.parse_args().quick else 3

    text = dag_yaml(MAX_YAML_BYTES)
    ours = median_seconds(lambda: parse_yaml(text, "big.yaml"), repeats)
    old = median_seconds(lambda: yaml.safe_load(text), repeats)
    c_only = median_seconds(lambda: yaml.load(text, Loader=yaml.CSafeLoader), repeats)
    print(f"YAML DAG, {len(text) / 1024**2:.2f} MiB ({text.count(chr(10))} lines):")
    print(f"  parse_yaml {ours:.2f}s  yaml.safe_load {old:.2f}s  CSafeLoader {c_only:.2f}s")
    print(f"  parse_yaml / yaml.safe_load = {ours / old:.2f}   / CSafeLoader = {ours / c_only:.2f}")
    report(
        "file_reader",
        "YAML DAG at the 1 MiB limit: parse_yaml",
        ours,
        "s",
        baseline=old,
        baseline_label="yaml.safe_load",
    )

    document = json.dumps(yaml.load(text, Loader=yaml.CSafeLoader))
    while len(document) * 2 < MAX_JSON_BYTES:
        data = json.loads(document)
        data["nodes"] += data["nodes"]
        document = json.dumps(data)
    ours = median_seconds(lambda: parse_json(document, "big.json"), repeats)
    plain = median_seconds(lambda: json.loads(document), repeats)
    print(f"JSON DAG, {len(document) / 1024**2:.2f} MiB:")
    print(f"  parse_json {ours:.2f}s  json.loads {plain:.2f}s  ratio {ours / plain:.2f}")
    report(
        "file_reader",
        "JSON DAG near the 16 MiB limit: parse_json",
        ours,
        "s",
        baseline=plain,
        baseline_label="json.loads",
    )

    laughs = ["l0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    laughs += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    hostile = {
        "billion laughs (10^9 values)": "\n".join(laughs),
        "nesting 5,000 deep": "x: " + "[" * 5000 + "]" * 5000,
        "an integer of 5,000 digits": "x: " + "9" * 5000,
    }
    for name, bad in hostile.items():
        refused = refusal_seconds(bad)
        print(f"refused {name} in {refused * 1000:.1f} ms")
        report(
            "file_reader",
            f"refusal of {name}",
            refused * 1000,
            "ms",
            goal="< 1000 ms",
            met=refused < 1,
        )


if __name__ == "__main__":
    main()
