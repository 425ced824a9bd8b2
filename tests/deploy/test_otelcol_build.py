"""The official OpenTelemetry Collector built from deploy/otelcol/builder.yaml, and its configs.

The module's fixture runs ``scripts/build-otelcol.sh``, which builds the binary from the Go module
proxy into the cache on a fresh machine (minutes) and finds it there afterwards (instant). Each
config in deploy/otelcol/ must pass the collector's own ``validate`` (unmarshalled into every
component's config struct, unknown keys refused), with its defaults and with its variables set.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OTELCOL_DIR = ROOT / "deploy" / "otelcol"
BUILD_SCRIPT = ROOT / "scripts" / "build-otelcol.sh"
CONFIGS = ["forward-kafka.yaml", "forward-otlp.yaml", "read-tracesieve-topics.yaml"]

# A cold build downloads the module graph and compiles ~48 MB of Go on 2 shared cores.
pytestmark = pytest.mark.timeout(1800)


def build_otelcol() -> Path:
    """Runs the build script; returns the binary it names on its last line."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"build-otelcol.sh failed:\n{done.stderr[-4000:]}"
    binary = Path(done.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK), done.stdout
    return binary


@pytest.fixture(scope="module")
def otelcol() -> Path:
    return build_otelcol()


def validate(binary: Path, config: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    # Only PATH and HOME from outside, so that an OTELCOL_* variable of the caller's shell can
    # neither hide a missing default nor make a broken one pass.
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [str(binary), "validate", "--config", str(config)],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_deploy_otelcol_holds_exactly_the_known_configs() -> None:
    # The parametrized checks below name their files: a config added without a check fails here.
    found = sorted(p.name for p in OTELCOL_DIR.glob("*.yaml") if p.name != "builder.yaml")
    assert found == CONFIGS


def test_binary_reports_the_manifest_version_and_components(otelcol: Path) -> None:
    manifest = (OTELCOL_DIR / "builder.yaml").read_text()
    version_match = re.search(r"^  version: (\S+)$", manifest, re.M)
    assert version_match is not None
    version = version_match.group(1)
    shown = subprocess.run([str(otelcol), "--version"], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == f"otelcol-tracesieve version {version}"

    listed = subprocess.run([str(otelcol), "components"], capture_output=True, text=True, check=True)
    for gomod in re.findall(r"- gomod: (\S+ \S+)", manifest):
        assert f"module: {gomod}\n" in listed.stdout, f"{gomod} missing from `components`"


def test_build_script_finds_the_cached_binary(otelcol: Path) -> None:
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    *_, timing, path = done.stdout.strip().splitlines()
    assert Path(path) == otelcol
    assert ": cached (" in timing
    assert "building" not in done.stderr


@pytest.mark.parametrize("name", CONFIGS)
def test_config_validates_with_its_defaults(otelcol: Path, name: str) -> None:
    done = validate(otelcol, OTELCOL_DIR / name, {})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("name", "env"),
    [
        (
            "forward-otlp.yaml",
            {
                "OTELCOL_OTLP_GRPC_ENDPOINT": "127.0.0.1:14317",
                "OTELCOL_OTLP_HTTP_ENDPOINT": "127.0.0.1:14318",
                "OTELCOL_TRACESIEVE_ENDPOINT": "tracesieve.observability.svc:4317",
                "OTELCOL_TRACESIEVE_INSECURE": "false",
            },
        ),
        (
            "forward-kafka.yaml",
            {
                "OTELCOL_KAFKA_BROKERS": "kafka-0:9092,kafka-1:9092",
                "OTELCOL_SPANS_TOPIC": "t1_otlp_spans",
                "OTELCOL_LOGS_TOPIC": "t1_otlp_logs",
                "OTELCOL_PARTITION_TRACES_BY_ID": "true",
            },
        ),
        (
            "read-tracesieve-topics.yaml",
            {
                "OTELCOL_KAFKA_BROKERS": "kafka-0:9092,kafka-1:9092",
                "OTELCOL_KAFKA_GROUP_ID": "reader-2",
                "OTELCOL_INITIAL_OFFSET": "latest",
                "OTELCOL_DEBUG_VERBOSITY": "basic",
            },
        ),
    ],
    ids=["forward-otlp", "forward-kafka", "read-tracesieve-topics"],
)
def test_config_validates_with_its_variables_set(otelcol: Path, name: str, env: dict[str, str]) -> None:
    text = (OTELCOL_DIR / name).read_text()
    for variable in env:
        assert f"${{env:{variable}:-" in text, f"{name} does not read {variable}"
    done = validate(otelcol, OTELCOL_DIR / name, env)
    assert done.returncode == 0, done.stderr


def test_a_typo_in_a_key_is_refused(otelcol: Path, tmp_path: Path) -> None:
    text = (OTELCOL_DIR / "forward-kafka.yaml").read_text()
    assert "      required_acks: -1\n" in text
    broken = tmp_path / "typo.yaml"
    broken.write_text(text.replace("      required_acks: -1\n", "      requried_acks: -1\n"))
    done = validate(otelcol, broken, {})
    assert done.returncode != 0
    assert "invalid keys: requried_acks" in done.stderr


def test_a_value_of_the_wrong_type_from_the_environment_is_refused(otelcol: Path) -> None:
    done = validate(otelcol, OTELCOL_DIR / "forward-otlp.yaml", {"OTELCOL_TRACESIEVE_INSECURE": "maybe"})
    assert done.returncode != 0
    assert "tls.insecure" in done.stderr
