"""Key distribution's pure parts: what the DC publishes, what an edge's
agent writes (real files in a temporary repository)."""

from __future__ import annotations

import base64
import os

import pytest

from edge_refarch.architecture import load_model
from edge_refarch.validation.testbed import keys


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_publish_replaces_the_repository_in_one_transaction():
    stmts = keys.publish_statements("fernet_tokens", {"0": "a-b_c=",
                                                      "2": "x"})
    assert stmts[0] == "USE keystone"
    assert stmts[2:] == [
        "START TRANSACTION",
        f"DELETE FROM keystone.{keys.KEY_TABLE} WHERE repository = "
        "'fernet_tokens'",
        f"INSERT INTO keystone.{keys.KEY_TABLE} VALUES "
        "('fernet_tokens', '0', 'a-b_c='), ('fernet_tokens', '2', 'x')",
        "COMMIT"]


@pytest.mark.parametrize("bad", [{"0'; DROP TABLE x; --": "k"},
                                 {"0": "k'; DROP TABLE x; --"}])
def test_publish_refuses_what_is_not_a_key(bad):
    with pytest.raises(ValueError):
        keys.publish_statements("fernet_tokens", bad)


def test_agent_writes_exactly_the_published_keys(tmp_path):
    repo = tmp_path / "fernet-keys"
    repo.mkdir()
    (repo / "0").write_text("old-staged")
    (repo / "1").write_text("old-primary")
    published = {"0": _key(), "1": "old-primary", "2": _key()}
    assert keys.write_repository(repo, published)
    assert keys.read_repository(repo) == published
    assert all(oct((repo / n).stat().st_mode)[-3:] == "600"
               for n in published)
    assert not keys.write_repository(repo, published)    # nothing to do
    # A later rotation drops the oldest secondary.
    later = {"0": _key(), "2": published["2"], "3": published["0"]}
    assert keys.write_repository(repo, later)
    assert sorted(os.listdir(repo)) == ["0", "2", "3"]


def test_an_empty_table_never_empties_the_repository(tmp_path):
    repo = tmp_path / "fernet-keys"
    repo.mkdir()
    (repo / "0").write_text("k")
    assert not keys.write_repository(repo, {})
    assert keys.read_repository(repo) == {"0": "k"}


def test_max_active_keys_follows_the_tolerated_rotations():
    bounds = load_model().bounds
    assert bounds.max_active_keys == bounds.key_rotations_per_partition + 2


def test_both_key_repositories_are_published_and_synced(tmp_path):
    # Credential keys follow the token keys: credential_migrate's
    # re-encrypted rows reach the edges through the replica.
    class FakeKeystone:
        keys = tmp_path / "fernet-keys"
        credential_keys = tmp_path / "credential-keys"

    class FakeDb:
        socket = tmp_path / "mysqld.sock"
        executed: list[str] = []

        def execute(self, *statements):
            self.executed.extend(statements)

    for repo in (FakeKeystone.keys, FakeKeystone.credential_keys):
        repo.mkdir()
        (repo / "0").write_text("A" * 43 + "=")
    assert set(keys.repositories(FakeKeystone)) == set(keys.REPOSITORIES) \
        == {"fernet_tokens", "credential"}
    db = FakeDb()
    keys.publish(db, FakeKeystone)
    deleted = [s for s in db.executed if s.startswith("DELETE")]
    assert [s.split("'")[1] for s in deleted] == ["fernet_tokens",
                                                   "credential"]
    site = type("Site", (), {"name": "edge1"})
    agent = keys.KeySync(site, FakeDb(), type(
        "K", (), {"dir": tmp_path, "keys": FakeKeystone.keys,
                  "credential_keys": FakeKeystone.credential_keys}),
        "127.0.2.1:20101", "s3cret", 3)
    agent.write_config()
    argv = agent.argv()
    assert argv[argv.index("--repository") + 1:] == [
        f"fernet_tokens={FakeKeystone.keys}", "--repository",
        f"credential={FakeKeystone.credential_keys}"]
    # The acknowledgement goes to the DC over the link; its password is in
    # a file of the agent's only, never on the command line.
    assert argv[argv.index("--ack-host") + 1] == "127.0.2.1"
    assert argv[argv.index("--ack-port") + 1] == "20101"
    assert "s3cret" not in argv
    secret = tmp_path / "key-sync" / "ack-password"
    assert secret.read_text() == "s3cret"
    assert secret.stat().st_mode & 0o777 == 0o600


def test_an_edges_keys_against_the_dcs():
    """current: it holds the DC's primary and staged keys; behind: the
    primary only (it missed a rotation, tolerated); stale: not the primary
    (the DC's new tokens are refused there)."""
    dc = {"0": "staged", "3": "primary", "2": "older"}
    held = {keys.digest(k) for k in ("staged", "primary", "older")}
    assert keys.key_state(dc, held) == "current"
    assert keys.key_state(dc, held - {keys.digest("staged")}) == "behind"
    assert keys.key_state(dc, {keys.digest("older")}) == "stale"
    assert keys.key_state(dc, None) == "unknown"


def test_an_acknowledgement_carries_digests_not_keys():
    sql, params = keys.ack_statement("edge1", "fernet_tokens",
                                      {"0": "k0", "1": "k1"})
    assert sql.startswith(f"REPLACE INTO {keys.ACK_DATABASE}.ack")
    assert params == ("edge1", "fernet_tokens",
                      ",".join(sorted([keys.digest("k0"),
                                       keys.digest("k1")])))
    assert "k0" not in params[2].split(",")


def test_the_dc_keeps_its_binlog_for_the_models_retention(tmp_path):
    """The retention the model declares (bounds.binlog_retention_s) is the
    DC's binlog_expire_logs_seconds; an edge's replica writes no binlog."""
    from edge_refarch.architecture.topology import Topology
    from edge_refarch.validation.testbed.mariadb import MariaDB
    model = load_model()
    topo = Topology(model, "distributed", testbed=True)
    retention = model.bounds.binlog_retention_s
    dc = MariaDB(topo.root, tmp_path / "dc", port=3306, primary=True,
                 replica=False, binlog_retention_s=retention)
    edge = MariaDB(topo.sites["edge1"], tmp_path / "edge1", port=3306,
                   primary=False,
                   replica=True, binlog_retention_s=retention)
    for db in (dc, edge):
        db.write_config()
    assert f"binlog_expire_logs_seconds = {retention}\n" in \
        dc.cnf.read_text()
    assert not [line for line in edge.cnf.read_text().splitlines()
                if line.startswith(("log_bin", "binlog_"))]
