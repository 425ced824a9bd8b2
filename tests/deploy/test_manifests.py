"""deploy/: the compose file, the Kubernetes manifests and the Dockerfile, checked offline.

* Kubernetes manifests against the Kubernetes JSON schemas bundled by ``kubernetes-validate``
  (strict: an unknown field is an error), for the newest Kubernetes minor it ships;
* the compose file, interpolated as ``docker compose`` does, against the compose-spec schema
  vendored in ``schemas/`` (see its README for source and licence);
* the tracesieve config each ConfigMap or compose service gives a process, with that process's
  environment, through tracesieve's own ``load_config`` (a typo'd key fails);
* the cross references: probes on the admin port, Secrets and ConfigMaps that exist, Services and
  PodDisruptionBudgets that select the pods they mean.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from tracesieve.collector.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.36.0"
COMPOSE_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())
ADMIN_PORT = 4319
ROLES = {"receiver", "normaliser", "processor"}
# What `docker compose` would take from the environment or a .env file.
COMPOSE_VARIABLES = {"TRACESIEVE_ADMIN_TOKEN": "compose-token"}


def k8s_documents(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.relative_to(K8S)}#{i}", doc)
        for path in sorted(folder.glob("*.yaml"))
        for i, doc in enumerate(yaml.safe_load_all(path.read_text()))
        if doc
    ]


ALL_K8S = k8s_documents(K8S / "sidecar") + k8s_documents(K8S / "scaled")


def validate_k8s(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(("name", "doc"), ALL_K8S, ids=[name for name, _ in ALL_K8S])
def test_kubernetes_manifests_match_the_kubernetes_schemas(name: str, doc: dict[str, Any]) -> None:
    validate_k8s(doc)


def test_every_manifest_yaml_parses() -> None:
    files = [DEPLOY / "compose.yaml", *sorted(K8S.rglob("*.y*ml"))]
    assert len(files) >= 7
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert docs and all(isinstance(d, dict) for d in docs), path


# -- compose -------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?])([^}]*))?\})")


def interpolate(value: Any, variables: dict[str, str]) -> Any:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$`` substitution."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        current = variables.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("-"):
            return arg if unset else str(current)
        if op.endswith("?") and unset:
            raise ValueError(f"required variable {name} is missing: {arg}")
        return current or ""

    return _VARIABLE.sub(substitute, value)


def compose_file(variables: dict[str, str] = COMPOSE_VARIABLES) -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return dict(interpolate(data, variables))


def validate_compose(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(COMPOSE_SCHEMA).validate(data)


def test_the_compose_file_matches_the_compose_spec() -> None:
    compose = compose_file()
    validate_compose(compose)
    assert set(compose["services"]) == {"kafka", "clickhouse", *ROLES}
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", compose["services"]["kafka"]["image"])
    assert compose["services"]["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    with pytest.raises(ValueError, match="TRACESIEVE_ADMIN_TOKEN"):
        compose_file({})  # compose refuses to start without the admin token


def test_compose_services_wait_for_healthy_dependencies_and_probe_readyz() -> None:
    services = compose_file()["services"]
    for name in ROLES:
        service = services[name]
        assert (ROOT / service["build"]["dockerfile"]).is_file()
        assert (DEPLOY / service["build"]["context"]).resolve() == ROOT
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert "TRACESIEVE_ADMIN__TOKEN" in " ".join(service["healthcheck"]["test"])
        for dependency, condition in service["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert services[dependency]["healthcheck"]["test"]
    assert set(services["processor"]["depends_on"]) == {"kafka", "clickhouse"}
    assert services["receiver"]["ports"] == ["4317:4317", "4318:4318"]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_compose_gives_each_stage_a_valid_tracesieve_config(role: str, tmp_path: Path) -> None:
    compose = compose_file()
    service = compose["services"][role]
    (mount,) = service["configs"]
    assert service["command"] == ["run", "--config", mount["target"]]
    path = tmp_path / "tracesieve.yaml"
    path.write_text(compose["configs"][mount["source"]]["content"])
    config = load_config(path, environ={k: str(v) for k, v in service["environment"].items()})
    assert config.service.role == role
    assert config.transport.kind == "kafka"
    assert config.transport.kafka.bootstrap_servers == "kafka:9092"
    assert config.admin.token == "compose-token"
    assert config.admin.endpoint == f"0.0.0.0:{ADMIN_PORT}"
    if role == "processor":
        assert config.sinks.clickhouse.dsn == "http://tracesieve:tracesieve@clickhouse:8123"


# -- Kubernetes ----------------------------------------------------------------------------------


def _by_kind(docs: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in docs if d["kind"] == kind}


def _tracesieve_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "tracesieve"
    ]
    return container


def _loaded_config(folder: Path, deployment: dict[str, Any], tmp_path: Path) -> Config:
    """The config the tracesieve container of ``deployment`` runs with: its mounted ConfigMap and
    its environment, Secret values taken from the Secret manifests beside it."""
    docs = k8s_documents(folder)
    configmaps, secrets = _by_kind(docs, "ConfigMap"), _by_kind(docs, "Secret")
    pod = deployment["spec"]["template"]["spec"]
    container = _tracesieve_container(deployment)
    assert container["args"][:2] == ["run", "--config"]
    config_path = Path(container["args"][2])
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == config_path.parent]
    configmap = configmaps[volumes[mount["name"]]["configMap"]["name"]]
    path = tmp_path / config_path.name
    path.write_text(configmap["data"][config_path.name])
    environ: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            environ[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            environ[var["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return load_config(path, environ=environ)


def _check_probes_and_resources(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    for container in pod["containers"]:
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, container["name"]
    container = _tracesieve_container(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["admin"] == ADMIN_PORT
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    readiness = " ".join(container["readinessProbe"]["exec"]["command"])
    assert f"127.0.0.1:{ADMIN_PORT}/readyz" in readiness and "TRACESIEVE_ADMIN__TOKEN" in readiness
    token = {v["name"]: v for v in container["env"]}["TRACESIEVE_ADMIN__TOKEN"]
    assert "secretKeyRef" in token["valueFrom"]  # never a literal in the manifest
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_sidecar_runs_beside_the_app_on_a_volume_of_its_own(tmp_path: Path) -> None:
    docs = k8s_documents(K8S / "sidecar")
    (deployment,) = _by_kind(docs, "Deployment").values()
    _check_probes_and_resources(deployment)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    config = _loaded_config(K8S / "sidecar", deployment, tmp_path)
    assert config.service.role == "all" and config.transport.kind == "embedded"
    assert config.sinks.clickhouse.is_embedded
    container = _tracesieve_container(deployment)
    data = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}[str(config.service.data_dir)]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes[data]["persistentVolumeClaim"]["claimName"]
    assert claim in _by_kind(docs, "PersistentVolumeClaim")
    assert config.sinks.clickhouse.dsn.startswith(f"chdb://{config.service.data_dir}/")
    (app,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] != "tracesieve"]
    endpoint = {v["name"]: v["value"] for v in app["env"]}["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint.endswith(config.receivers.otlp.protocols.http.endpoint.rpartition(":")[2])  # type: ignore[union-attr]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_scaled_stage_is_a_deployment_with_its_role(role: str, tmp_path: Path) -> None:
    docs = k8s_documents(K8S / "scaled")
    deployment = _by_kind(docs, "Deployment")[f"tracesieve-{role}"]
    _check_probes_and_resources(deployment)
    assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == role
    config = _loaded_config(K8S / "scaled", deployment, tmp_path)
    assert config.service.role == role
    assert config.transport.kind == "kafka"
    assert config.transport.kafka.topics.canonical == "tracesieve_canonical_spans"
    assert config.admin.token == "change-me"
    if role == "processor":  # it creates the cluster DDL on the cluster deploy/clickhouse/ defines
        assert config.sinks.clickhouse.cluster == "tracesieve"
        assert config.sinks.clickhouse.dsn.startswith("http://")
    else:  # receivers and normalisers need no store
        assert config.sinks.clickhouse.cluster is None
        assert "TRACESIEVE_SINKS__CLICKHOUSE__DSN" not in {
            v["name"] for v in _tracesieve_container(deployment)["env"]
        }


def _selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector.items())


def test_services_and_disruption_budgets_select_the_right_pods() -> None:
    docs = k8s_documents(K8S / "scaled")
    deployments = _by_kind(docs, "Deployment")
    (service,) = _by_kind(docs, "Service").values()
    selected = [name for name, d in deployments.items() if _selects(service["spec"]["selector"], d)]
    assert selected == ["tracesieve-receiver"]
    ports = {p["name"]: p["containerPort"] for p in _tracesieve_container(deployments[selected[0]])["ports"]}
    assert {p["port"]: ports[p["targetPort"]] for p in service["spec"]["ports"]} == {4317: 4317, 4318: 4318}
    (budget,) = _by_kind(docs, "PodDisruptionBudget").values()
    chosen = [n for n, d in deployments.items() if _selects(budget["spec"]["selector"]["matchLabels"], d)]
    assert chosen == ["tracesieve-processor"]


def test_the_dockerfile_installs_the_package_and_runs_as_a_user() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    instructions = [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in lines]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copied = [arg.split()[:-1] for op, arg in instructions if op == "COPY"]
    sources = {src for args in copied for src in args}
    assert all((ROOT / src).exists() for src in sources)
    assert {
        "collector",
        "processors",
        "sinks",
        "evals",
        "_tracesieve",
        "pyproject.toml",
        "setup.py",
    } <= sources
    assert ("RUN", "pip install . && rm -rf /src") in instructions
    user = [arg for op, arg in instructions if op == "USER"][-1]
    assert not user.startswith(("root", "0:", "0 ")) and user != "0"
    assert ("ENTRYPOINT", '["tracesieve"]') in instructions


# -- the checks can fail -------------------------------------------------------------------------


def test_a_broken_kubernetes_manifest_is_refused() -> None:
    deployment = copy.deepcopy(_by_kind(k8s_documents(K8S / "scaled"), "Deployment")["tracesieve-processor"])
    validate_k8s(deployment)
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = typo["spec"]["template"]["spec"][
        "containers"
    ][0].pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(typo)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(wrong_type)


def test_a_broken_compose_file_is_refused() -> None:
    compose = compose_file()
    compose["services"]["processor"]["depends_on"]["kafka"]["condition"] = "healthy"
    with pytest.raises(jsonschema.ValidationError):
        validate_compose(compose)
    compose = compose_file()
    compose["services"]["receiver"]["helthcheck"] = compose["services"]["receiver"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError):
        validate_compose(compose)


def test_a_typo_in_an_embedded_config_is_refused(tmp_path: Path) -> None:
    deployment = copy.deepcopy(_by_kind(k8s_documents(K8S / "scaled"), "Deployment")["tracesieve-processor"])
    _tracesieve_container(deployment)["env"].append(
        {"name": "TRACESIEVE_SINKS__CLICKHOUSE__CLUSTR", "value": "x"}
    )
    with pytest.raises(ConfigError, match=r"`sinks\.clickhouse\.clustr`: unknown key"):
        _loaded_config(K8S / "scaled", deployment, tmp_path)
