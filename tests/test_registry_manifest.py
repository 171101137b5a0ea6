"""The MCP registry entry (manifests/server.json): valid against the registry's published schema, the PyPI
package `cargo-ai-mcp` run with uvx, every environment variable the server reads, and the README's marker."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from cargo_mcp import __version__, settings
from cargo_mcp.api.client import DEFAULT_BASE_URL
from cargo_mcp.cli import main
from cargo_mcp.http_settings import HTTP_VARIABLES
from cargo_mcp.results import fetch, store
from cargo_mcp.results.s3 import S3Location
from cargo_mcp.settings import KNOWN_VARIABLES
from tests.installed import ROOT

SERVER: dict[str, Any] = json.loads((ROOT / "manifests" / "server.json").read_text())
# The published 2025-12-11 schema as the PyPI package skillsaw 0.22.0 bundles it (a byte-for-byte copy from the
# modelcontextprotocol/static repository; see docs/distribution.md). The digest pins that copy.
SCHEMA_FILE = files("skillsaw.schemas.mcp_registry.v2025_12_11") / "server.schema.json"
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
SECRETS = {"CARGO_API_TOKEN"}
VARIABLE = r'"(CARGO_[A-Z0-9_]*[A-Z0-9])"'  # a quoted variable name (a prefix such as "CARGO_MCP_" is not one)
DEFAULTS = {
    "CARGO_API_BASE_URL": DEFAULT_BASE_URL,
    "CARGO_MCP_RESULTS_MAX_BYTES": str(store.DEFAULT_MAX_BYTES),
    "CARGO_MCP_DOWNLOAD_HOSTS": ",".join(fetch.DEFAULT_HOSTS),
    "CARGO_MCP_MAX_DOWNLOAD_BYTES": str(fetch.DEFAULT_MAX_BYTES),
    "CARGO_MCP_MAX_RUNS": str(settings.DEFAULT_MAX_RUNS),
    "CARGO_MCP_RESULTS_S3_PREFIX": S3Location.prefix,
}


def package() -> dict[str, Any]:
    (pypi,) = SERVER["packages"]
    assert isinstance(pypi, dict)
    return pypi


def test_server_json_validates_against_the_published_schema() -> None:
    raw = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256
    schema = json.loads(raw)
    assert SERVER["$schema"] == schema["$id"]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft7Validator(schema).iter_errors(SERVER)]
    assert errors == []


def test_server_json_passes_the_registrys_publishing_rules(tmp_path: Path) -> None:
    """skillsaw's registry rules add what the schema cannot say: exact versions, reverse-DNS names, base URLs."""
    shutil.copy(ROOT / "manifests" / "server.json", tmp_path / "server.json")
    lint = [sys.executable, "-m", "skillsaw", "lint", str(tmp_path)]  # skillsaw is a dev dependency
    proc = subprocess.run(lint, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Errors:   0" in proc.stdout, proc.stdout + proc.stderr


def test_server_json_names_the_pypi_package_run_with_uvx() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pypi = package()
    assert pypi["registryType"] == "pypi" and pypi["identifier"] == project["name"] == "cargo-ai-mcp"
    assert pypi["runtimeHint"] == "uvx" and pypi["transport"] == {"type": "stdio"}
    assert SERVER["version"] == pypi["version"] == __version__
    assert SERVER["repository"]["url"] == project["urls"]["Repository"]
    args = [a["value"] for a in pypi["packageArguments"]]
    with pytest.raises(SystemExit) as help_exit:  # the arguments are a real command line of the package
        main([*args, "--help"])
    assert help_exit.value.code == 0


def test_every_environment_variable_is_declared_with_description_and_secrecy() -> None:
    # Every variable a client-launched server reads; the HTTP deployment's own (http_settings.py) are an
    # operator's, documented in docs/deploy.md instead.
    http_only = ROOT / "src" / "cargo_mcp" / "http_settings.py"
    read = set(re.findall(VARIABLE, "".join(p.read_text() for p in (ROOT / "src").rglob("*.py") if p != http_only)))
    declared = {v["name"]: v for v in package()["environmentVariables"]}
    assert set(declared) == read == set(KNOWN_VARIABLES)  # the misspelling warning knows each one
    assert set(HTTP_VARIABLES) == set(re.findall(VARIABLE, http_only.read_text()))
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    for name in set(re.findall(VARIABLE, http_only.read_text())) - read:
        assert re.search(rf"\b{name}\b", deploy), f"{name} is not documented in docs/deploy.md"
    for name, var in declared.items():
        assert var["description"].strip() and var["isSecret"] is (name in SECRETS), name
        if name in DEFAULTS:
            assert var["default"] == DEFAULTS[name], name
        readme = (ROOT / "README.md").read_text()
        assert f"`{name}`" in readme, f"{name} is not documented in the README"


def test_the_readme_carries_the_ownership_marker() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"mcp-name: {SERVER['name']}" in readme
