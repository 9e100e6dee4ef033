"""The testbed's Keystones store passwords at the model's bcrypt rounds
(testbed.password_hash_rounds): the admin's, written by keystone-manage
bootstrap, and a user's, created through the identity API."""

from __future__ import annotations

MODEL = "distributed"


def test_passwords_are_stored_at_the_models_rounds(manager, unique):
    bed = manager.ensure(MODEL)
    rounds = bed.testbed.model.testbed.password_hash_rounds
    assert rounds is not None
    conn = bed.at("dc").conn
    name = f"{unique}-pw"
    user = conn.identity.create_user(name=name, domain_id="default",
                                     password=f"{unique}-Pw0rd")
    try:
        rows = bed.testbed.databases()["dc"].execute(
            "SELECT u.name, p.password_hash FROM keystone.local_user u "
            "JOIN keystone.password p ON p.local_user_id = u.id "
            f"WHERE u.name IN ('admin', '{name}')")
        hashes = {row[0]: row[1] for row in rows}
        assert set(hashes) == {"admin", name}, hashes
        for who, stored in hashes.items():
            # bcrypt's modular crypt format: $2b$<rounds>$<salt+hash>
            assert stored.startswith(f"$2b${rounds:02d}$"), (who, stored[:7])
        # ... and the password still logs in.
        got = bed.at("dc").issue_token(name, f"{unique}-Pw0rd", project=None)
        assert got.status_code == 201, got.text
    finally:
        conn.identity.delete_user(user)
