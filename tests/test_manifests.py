"""The cluster packaging in manifests/, checked as far as a machine without Docker or Kubernetes allows.

Kubernetes objects are validated against the API schemas (kubernetes-validate, strict: unknown fields fail)
and against each other and the server (probe paths and ports, selectors, Secret and ConfigMap keys, the
server's own flag parser and fail-closed rule). The Dockerfile is linted by hadolint and its structure is
checked. Not checked here: building the image, running it, applying the manifests to a cluster.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cargo_mcp.cli import build_parser, http_settings_from_args
from cargo_mcp.http_settings import HEALTH_PATH, MCP_PATH, READY_PATH
from cargo_mcp.server.http import transport_security
from cargo_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "manifests" / "kubernetes"
DOCKERFILE = ROOT / "manifests" / "Dockerfile"
KUBERNETES_VERSION = "1.30.0"


def objects() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[doc["kind"]] = doc
    return found


def container() -> dict[str, Any]:
    spec = objects()["Deployment"]["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    assert isinstance(only, dict), only
    return only


@pytest.mark.parametrize("path", sorted(KUBE.glob("*.yaml")), ids=lambda p: p.name)
def test_every_object_is_valid_kubernetes(path: Path) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        assert doc["metadata"]["name"] == "cargo-mcp"
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "cargo-mcp"


def test_the_set_is_complete() -> None:
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret", "ConfigMap"} <= set(objects())


def test_probes_and_ports_match_the_server() -> None:
    c = container()
    args = build_parser().parse_args(c["args"])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert args.command == "serve" and args.http and args.stateless and args.host == "0.0.0.0"
    assert ports == {"http": args.port, "metrics": args.metrics_port}
    assert c["readinessProbe"]["httpGet"] == {"path": READY_PATH, "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": HEALTH_PATH, "port": "http"}
    service = objects()["Service"]["spec"]
    assert [p["targetPort"] for p in service["ports"]] == ["http"]  # metrics stay off the Service
    pod_labels = objects()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= pod_labels.items()
    assert objects()["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    annotations = objects()["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(args.metrics_port)


def test_the_autoscaler_and_disruption_budget_target_the_deployment() -> None:
    hpa = objects()["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cargo-mcp"}
    assert hpa["minReplicas"] >= 2
    assert "cpu" in container()["resources"]["requests"]  # utilization targets need a request
    pdb = objects()["PodDisruptionBudget"]["spec"]
    assert pdb["selector"] == objects()["Deployment"]["spec"]["selector"]


def test_environment_comes_from_the_secret_and_config_map() -> None:
    c = container()
    secret = objects()["Secret"]["stringData"]
    config = objects()["ConfigMap"]["data"]
    env = {}
    for var in c["env"]:
        ref = var["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "cargo-mcp" and ref["key"] in secret
        env[var["name"]] = secret[ref["key"]]
    assert [s["configMapRef"]["name"] for s in c["envFrom"]] == ["cargo-mcp"]
    env |= config
    assert {"CARGO_API_TOKEN", "CARGO_MCP_HTTP_TOKENS"} <= set(env)
    settings = Settings.from_env(env)
    assert not settings.sandbox
    assert settings.results_s3 is not None and settings.results_s3.bucket == config["CARGO_MCP_RESULTS_S3_BUCKET"]
    assert settings.results_max_age == 24 * 3600
    http = http_settings_from_args_env(c["args"], env)
    assert http.refusal() is None and http.tokens  # authenticated: the server starts on 0.0.0.0
    security = transport_security(http)
    for service_name in ("cargo-mcp", "cargo-mcp.cargo-mcp.svc", "cargo-mcp.cargo-mcp.svc.cluster.local"):
        assert f"{service_name}:*" in security.allowed_hosts
    assert "evil.example:*" not in security.allowed_hosts


def http_settings_from_args_env(argv: list[str], env: dict[str, str]) -> Any:
    import os

    saved = dict(os.environ)
    try:
        os.environ.update(env)
        return http_settings_from_args(build_parser().parse_args(argv))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_pod_runs_locked_down() -> None:
    pod = objects()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    c = container()["securityContext"]
    assert c == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    mounts = {m["mountPath"] for m in container()["volumeMounts"]}
    assert "/tmp" in mounts  # results and downloads need a writable folder with a read-only root
    assert "limits" in container()["resources"]


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(["hadolint", "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_structure() -> None:
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    stages = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(stages) >= 2 and stages[0].endswith(" AS build")
    final = lines[lines.index(stages[-1]) :]
    assert any(ln.startswith("COPY --from=build ") for ln in final)
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    build = "\n".join(lines[: lines.index(stages[-1])])
    assert "uv build --wheel" in build and "--no-dev" in build and "--frozen" in build
    assert "sandbox" not in build  # the API-mode install: the sandbox extra stays out
    entry = _json_list(final, "ENTRYPOINT")
    cmd = _json_list(final, "CMD")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry[0] in scripts
    args = build_parser().parse_args(cmd)
    assert args.command == "serve" and args.http and args.stateless and args.host == "0.0.0.0"
    exposed = {int(p) for ln in final if ln.startswith("EXPOSE ") for p in ln.split()[1:]}
    assert args.port in exposed
    health = next(ln for ln in final if ln.startswith("HEALTHCHECK "))
    assert f":{args.port}{HEALTH_PATH}" in health
    copied = [src for ln in lines if ln.startswith("COPY ") and "--from" not in ln for src in shlex.split(ln)[1:-1]]
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert copied and all(f"!{source}" in ignore for source in copied), (copied, ignore)


def test_manifests_name_the_mcp_path() -> None:
    text = (KUBE / "service.yaml").read_text()
    assert re.search(rf"svc{re.escape(MCP_PATH)}\b", text)


def _json_list(lines: list[str], instruction: str) -> list[str]:
    import json

    (line,) = [ln for ln in lines if ln.startswith(instruction + " ")]
    value: list[str] = json.loads(line.removeprefix(instruction + " "))
    return value
