"""Outside checkers for the contract, run with Node: the official AsyncAPI parser and
ajv, a JSON Schema implementation nobody here wrote (tests/node, installed by
./setup.sh test with npm ci)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
CONTRACT = ROOT / "contract"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None,
    reason="Node.js is not installed: the official AsyncAPI parser and ajv run on it "
           "(./setup.sh test installs Debian's nodejs)")


def node(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert (NODE_DIR / "node_modules").is_dir(), \
        "tests/node/node_modules is missing: ./setup.sh test runs npm ci there"
    return subprocess.run(["node", script, *args], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=120, check=False)


def ajv_invalid(schema: str, payloads: list[tuple[str, Any]], tmp: Path) -> list[str]:
    """The payloads ajv finds invalid against contract/SCHEMA, one line each."""
    listed = tmp / f"ajv-{schema}.payloads.json"
    listed.write_text(json.dumps(payloads, ensure_ascii=False), encoding="utf-8")
    result = node("ajv-check.mjs", str(CONTRACT / schema), str(listed))
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return result.stdout.splitlines()[:-1]   # the last line is the summary


def asyncapi_invalid(payloads: list[tuple[str, Any]], tmp: Path) -> list[str]:
    """The payloads invalid against their message (named by its `name`, e.g. an event's
    type) in contract/asyncapi.yaml as @asyncapi/parser resolves it, one line each."""
    listed = tmp / "asyncapi.payloads.json"
    listed.write_text(json.dumps(payloads, ensure_ascii=False), encoding="utf-8")
    result = node("asyncapi-check.mjs", str(CONTRACT / "asyncapi.yaml"), str(listed))
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert f"payloads: {len(payloads)}," in result.stdout, result.stdout[-2000:]
    return [line for line in result.stdout.splitlines() if line.startswith("error")]
