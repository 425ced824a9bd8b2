"""deploy/clickhouse: the committed cluster DDL is the generated one, and real ClickHouse takes it.

No ClickHouse *server* can be installed here (Debian ships 18.16, older than DateTime64, Map and
Keeper; no registry here has a current one). So the DDL is checked against the ClickHouse engine
that is here, chDB 26.x:

* every statement parses (``formatQuery``), ON CLUSTER included, and ClickHouse's own rendering
  of it has the engines and Distributed tables intended;
* every statement *runs*, without its ``ON CLUSTER`` clause (embedded ClickHouse runs no
  distributed DDL queue), in a chDB configured as one node of a one-shard ``tracesieve``
  cluster, with the deploy's ``macros.xml`` and a real Apache ZooKeeper (from Maven Central, the
  jars cached under ``$TRACESIEVE_CACHE``): the Replicated tables register at the intended Keeper
  paths and the Distributed tables route to the local shard. (Embedded ClickHouse never
  activates its replicas, so INSERTs into them are not tried.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from tracesieve.sinks.clickhouse._cluster import LAYOUT, EveryNode, Sharded
from tracesieve.sinks.clickhouse._sql import first_keyword, split_statements
from tracesieve.sinks.clickhouse.ddl import render_ddl
from tracesieve.sinks.clickhouse.store import connect

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"
CLUSTER_SQL = DEPLOY / "cluster.sql"
ZOOKEEPER_VERSION = "3.9.5"
# ZooKeeper declares these "provided": its server does not start without them.
ZOOKEEPER_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tracesieve.tests</groupId><artifactId>zookeeper-classpath</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId>
      <version>{ZOOKEEPER_VERSION}</version></dependency>
    <dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId>
      <version>4.2.40</version></dependency>
    <dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId>
      <version>1.1.10.12</version></dependency>
  </dependencies>
</project>
"""


def statements() -> list[str]:
    return split_statements(CLUSTER_SQL.read_text())


def test_the_committed_cluster_ddl_is_the_generated_one() -> None:
    assert CLUSTER_SQL.read_text() == render_ddl("tracesieve", "tracesieve"), (
        "deploy/clickhouse/cluster.sql is stale: regenerate it with `python -m "
        "tracesieve.sinks.clickhouse.ddl --cluster tracesieve --print > deploy/clickhouse/cluster.sql`"
    )


def test_every_statement_parses_in_clickhouse_with_the_intended_engines(chdb_dsn: str) -> None:
    client = connect(chdb_dsn)
    try:
        formatted = [
            str(
                client.query("SELECT formatQuerySingleLine({q:String})", parameters={"q": s}).result_rows[0][
                    0
                ]
            )
            for s in statements()
        ]
    finally:
        client.close()
    creates: dict[str, str] = {}
    for sql in formatted:
        if sql.startswith("CREATE TABLE"):
            name = re.match(r"CREATE TABLE IF NOT EXISTS tracesieve\.(\w+) ON CLUSTER tracesieve", sql)
            assert name, sql
            creates[name.group(1)] = sql
        else:
            assert sql.startswith(
                ("CREATE DATABASE IF NOT EXISTS tracesieve ON CLUSTER tracesieve", "INSERT")
            )
    for table, layout in LAYOUT.items():
        if isinstance(layout, Sharded):
            local, distributed = creates.pop(f"{table}_local"), creates.pop(table)
            assert (
                "ENGINE = Replicated" in local
                and f"('/clickhouse/tables/{{shard}}/tracesieve/{table}', '{{replica}}'" in local
            )
            engine = f"Distributed(tracesieve, tracesieve, {table}_local, {layout.key})"
            assert distributed.endswith(f"AS tracesieve.{table}_local ENGINE = {engine}")
        else:
            assert isinstance(layout, EveryNode)
            sql = creates.pop(table)
            assert "ENGINE = Replicated" in sql and "Distributed" not in sql
            assert f"('/clickhouse/tables/all/tracesieve/{table}', '{{shard}}-{{replica}}'" in sql
    assert creates == {}


def test_the_example_cluster_is_two_shards_of_two_replicas_on_three_keepers() -> None:
    servers = ET.parse(DEPLOY / "config.d" / "remote_servers.xml").getroot()
    (cluster,) = servers.find("remote_servers") or []
    assert cluster.tag == "tracesieve"  # the name cluster.sql and the k8s ConfigMap use
    shards = cluster.findall("shard")
    assert [[r.findtext("host") for r in s.findall("replica")] for s in shards] == [
        ["ch-s1-r1", "ch-s1-r2"],
        ["ch-s2-r1", "ch-s2-r2"],
    ]
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    keeper_nodes = ET.parse(DEPLOY / "config.d" / "keeper.xml").getroot().findall("zookeeper/node")
    raft = (
        ET.parse(DEPLOY / "keeper" / "keeper_config.xml")
        .getroot()
        .findall("keeper_server/raft_configuration/server")
    )
    assert [n.findtext("host") for n in keeper_nodes] == [s.findtext("hostname") for s in raft]
    assert {n.findtext("port") for n in keeper_nodes} == {"9181"}
    macros = ET.parse(DEPLOY / "config.d" / "macros.xml").getroot().find("macros")
    assert macros is not None and [m.tag for m in macros] == ["shard", "replica"]
    users = ET.parse(DEPLOY / "users.d" / "tracesieve.xml").getroot()
    assert users.findtext("profiles/tracesieve/distributed_foreground_insert") == "1"


# -- the DDL run by real ClickHouse (chDB) against a real ZooKeeper ------------------------------


def _cache() -> Path:
    return Path(os.environ.get("TRACESIEVE_CACHE") or Path.home() / ".cache" / "tracesieve")


def _zookeeper_classpath() -> Path:
    """The ZooKeeper server's jars, fetched with Maven once per machine (cached)."""
    home = _cache() / f"zookeeper-{ZOOKEEPER_VERSION}"
    lib = home / "lib"
    if (home / "complete").exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(ZOOKEEPER_POM)
    shutil.rmtree(lib, ignore_errors=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
        check=True, timeout=600,
    )  # fmt: skip
    (home / "complete").touch()
    return lib


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A one-node Apache ZooKeeper on 127.0.0.1; yields its client port."""
    lib = _zookeeper_classpath()
    folder = tmp_path_factory.mktemp("zookeeper")
    port = _free_port()
    (folder / "zoo.cfg").write_text(
        f"tickTime=2000\ndataDir={folder / 'data'}\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
        "admin.enableServer=false\n4lw.commands.whitelist=ruok\n"
    )
    log = (folder / "zookeeper.log").open("wb")
    proc = subprocess.Popen(
        ["java", "-Xmx256m", "-cp", f"{lib}/*", "org.apache.zookeeper.server.ZooKeeperServerMain",
         str(folder / "zoo.cfg")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(300):
            assert proc.poll() is None, (folder / "zookeeper.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"ruok")
                    if s.recv(4) == b"imok":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("ZooKeeper did not answer within 30 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


# Runs in a process of its own: chDB opens one data folder per process, and a chDB that has
# talked to ZooKeeper must leave with os._exit (its shutdown waits on the session).
_RUN_DDL = """
import json, os, sys, time
import chdb
config, folder, script = sys.argv[1:4]
conn = chdb.connect(f"file:{folder}?config-file={config}")
out = {"ran": 0, "seconds": 0.0}
started = time.monotonic()
for statement in json.loads(open(script).read()):
    conn.query(statement)
    out["ran"] += 1
out["seconds"] = time.monotonic() - started
def rows(sql):
    return json.loads(str(conn.query(sql, "JSONCompact")))["data"]
out["tables"] = rows("SELECT name, engine, engine_full FROM system.tables WHERE database = 'tracesieve'")
out["replicas"] = rows("SELECT table, zookeeper_path, replica_name FROM system.replicas "
                       "WHERE database = 'tracesieve'")
out["columns"] = rows("SELECT table, groupArray(name) FROM (SELECT table, name FROM system.columns "
                      "WHERE database = 'tracesieve' ORDER BY table, position) GROUP BY table")
out["count"] = rows("SELECT count() FROM tracesieve.spans")
print(json.dumps(out), flush=True)
os._exit(0)
"""


def _chdb_config(folder: Path, zookeeper_port: int) -> Path:
    """One node of a one-shard `tracesieve` cluster: itself (tcp_port makes it the local replica)."""
    (folder / "config.d").mkdir()
    shutil.copy(DEPLOY / "config.d" / "macros.xml", folder / "config.d" / "macros.xml")
    config = folder / "config.xml"
    config.write_text(f"""<clickhouse>
  <tcp_port>9000</tcp_port>
  <zookeeper><node><host>127.0.0.1</host><port>{zookeeper_port}</port></node></zookeeper>
  <remote_servers><tracesieve><shard><internal_replication>true</internal_replication>
    <replica><host>127.0.0.1</host><port>9000</port></replica></shard></tracesieve></remote_servers>
</clickhouse>
""")
    return config


def test_the_cluster_ddl_runs_on_clickhouse_with_keeper(zookeeper: int, tmp_path: Path) -> None:
    ddl = [s.replace(" ON CLUSTER tracesieve", "") for s in statements() if first_keyword(s) != "INSERT"]
    assert all("ON CLUSTER" not in s for s in ddl)
    (tmp_path / "ddl.json").write_text(json.dumps(ddl))
    config = _chdb_config(tmp_path, zookeeper)
    env = {**os.environ, "CLICKHOUSE_SHARD": "01", "CLICKHOUSE_REPLICA": "ch-1"}
    result = subprocess.run(
        [sys.executable, "-c", _RUN_DDL, str(config), str(tmp_path / "data"), str(tmp_path / "ddl.json")],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"ran {out['ran']} statements of cluster.sql in {out['seconds']:.2f} s")  # for the report
    assert out["ran"] == len(ddl)
    engines = {name: (engine, full) for name, engine, full in out["tables"]}
    replicas = {table: (path, replica) for table, path, replica in out["replicas"]}
    columns = dict(out["columns"])
    for table, layout in LAYOUT.items():
        if isinstance(layout, Sharded):
            assert engines[table][0] == "Distributed"
            key = layout.key
            assert engines[table][1] == f"Distributed('tracesieve', 'tracesieve', '{table}_local', {key})"
            assert engines[f"{table}_local"][0].startswith("Replicated")
            assert replicas[f"{table}_local"] == (f"/clickhouse/tables/01/tracesieve/{table}", "ch-1")
            assert columns[table] == columns[f"{table}_local"]
        else:
            assert engines[table][0].startswith("Replicated")
            assert replicas[table] == (f"/clickhouse/tables/all/tracesieve/{table}", "01-ch-1")
    assert out["count"] == [[0]]  # a read through Distributed reaches the local shard
