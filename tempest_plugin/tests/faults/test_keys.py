"""Day 2: fernet and credential key rotation at the DC, as the deployment
does it, and the tokens and stored credentials that must stay valid across
sites through it."""

import json
import uuid

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF


class KeyRotationTest(base.EdgeRefarchTest):

    partition_mode = "refused"

    def _rotate(self) -> str:
        return base.run_procedure(self, "key_rotation_command", "key rotation")

    def _accepted_at(self, site: str, token: str) -> bool:
        try:
            self.site(site, http_timeout=self.fail_fast) \
                .identity.show_token(token)
            return True
        except lib_exc.NotFound:
            return False

    def _cross(self) -> dict[str, bool]:
        """Fresh tokens of the DC and of the edge, each checked at the
        other site."""
        at_dc = self.site(self.root).issue_token()
        at_edge = self.login_at(self.edge)
        return {f"{self.root}->{self.edge}": self._accepted_at(self.edge,
                                                               at_dc),
                f"{self.edge}->{self.root}": self._accepted_at(self.root,
                                                               at_edge)}

    def _converged(self, label: str, matrix: dict) -> None:
        """Wait (the identity staleness bound) until tokens cross-validate
        both ways; record the matrix seen."""
        seen = {}

        def both():
            seen.update(self._cross())
            return all(seen.values())
        try:
            took = self.wait_until(f"tokens valid across sites after "
                                   f"{label}", both,
                                   self.model.bounds.identity_staleness_s)
        finally:
            matrix[label] = dict(seen)
        matrix[label]["converged_s"] = round(took, 2)

    @decorators.idempotent_id("f9e6521e-7065-4707-9d29-efe1f6afe800")
    @requirement("EDGE-DAY2-KEY-ROTATION")
    def test_tokens_cross_validate_through_key_rotations(self):
        """Fails when, after fernet key rotations at the DC made with the
        deployment's own procedure, a token issued at the DC is refused at
        the edge or one issued at the edge is refused at the DC -- after
        two ordinary rotations, while the edge is cut off for as many
        rotations as the model tolerates, or after the heal. Stock
        OpenStack distributes no keys: two rotations break cross-site
        validation unless the deployment distributes them. One rotation
        more during the cut must be refused by the procedure, naming the
        edge -- or leave the DC's tokens valid there -- never break the
        edge in silence."""
        self.injector()     # not run, before any rotation, without one
        matrix = {}
        # The matrix so far goes into the report, also when a step fails.
        self.addCleanup(lambda: self.evidence(matrix=matrix))
        self._converged("set-up", matrix)
        for n in (1, 2):
            self._rotate()
            self._converged(f"rotation {n}", matrix)
        tolerated = self.model.bounds.key_rotations_per_partition
        self.cut(self.edge)
        for _ in range(tolerated):
            self._rotate()
        during = self._cross()
        matrix[f"{tolerated} rotation(s) during the cut"] = during
        refused = [k for k, ok in during.items() if not ok]
        if refused:
            self.fail(f"with {self.edge} cut off for {tolerated} "
                      f"rotation(s), tokens are refused {', '.join(refused)}"
                      " (the model tolerates that many)")
        beyond = self._beyond_the_bound(tolerated + 1)
        matrix[f"rotation {tolerated + 1} during the cut"] = beyond
        self.injector().heal(self.link_of(self.edge))
        self._converged("the heal", matrix)
        self.evidence(rotations=2 + tolerated + ("rotated" in beyond))

    def _beyond_the_bound(self, n: int) -> dict:
        """Rotation `n` during the cut, one more than the model tolerates.
        The procedure refuses it, naming the edge that has not received
        the key it would promote; or it rotates, and the DC's new tokens
        must still be accepted at the edge. What happened, for the
        evidence."""
        proc = base.procedure(self, "key_rotation_command", "key rotation")
        said = base.last_line(proc)
        if proc.returncode:
            if self.edge not in proc.stdout + proc.stderr:
                self.fail(f"rotation {n} during the cut, beyond the bound, "
                          f"failed without naming {self.edge}: {said}")
            return {"refused": said}
        after = self._cross()
        if not after[f"{self.root}->{self.edge}"]:
            self.fail(f"rotation {n} during the cut, beyond the bound the "
                      f"model tolerates, was made without a word and the "
                      f"DC's new tokens are refused at {self.edge}: silently "
                      "broken (the procedure must refuse it, naming the "
                      "edge, or the deployment tolerate it)")
        return {"rotated": after}


class KeyRotationBlackholeTest(KeyRotationTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"


class CredentialKeyRotationTest(base.EdgeRefarchTest):
    """Day 2: credential key rotation at the DC. No link is cut: run once."""

    ROTATIONS = 3

    def _rotate(self) -> str:
        return base.run_procedure(self, "credential_key_rotation_command",
                             "credential key rotation")

    def _blob_at(self, site: str, credential_id: str) -> str | None:
        """The credential's blob as `site`'s Keystone decrypts it; None
        when it does not know the credential yet (replication)."""
        try:
            return self.site(site, http_timeout=self.fail_fast) \
                .credentials.show_credential(credential_id)[
                    "credential"]["blob"]
        except lib_exc.NotFound:
            return None

    @decorators.idempotent_id("3b0f4f7e-5d0c-4a8e-9a52-0c9a6d1e7b21")
    @requirement("EDGE-DAY2-CREDENTIAL-KEYS")
    def test_credentials_read_at_the_edge_through_key_rotations(self):
        """Fails when, after a credential key rotation at the DC made with
        the deployment's own procedure, a credential created at the DC does
        not read back unchanged at the edge within the identity staleness
        bound (Keystone answers 500 when it cannot decrypt it)."""
        if not CONF.edge_refarch.credential_key_rotation_command:
            self._rotate()      # not run, before creating anything
        dc = self.site(self.root)
        project_id = dc.identity.show_token(dc.issue_token())[
            "token"]["project"]["id"]
        # Deleting the user (the test's cleanup, or 'conformance cleanup'
        # after a crash: its name has the suite's prefix) deletes its
        # credentials.
        user = self.create_member(project_id)
        blob = json.dumps({"access": user["name"],
                           "secret": uuid.uuid4().hex})
        cred = dc.credentials.create_credential(
            type="ec2", user_id=user["id"], blob=blob,
            project_id=project_id)["credential"]
        reads: dict[str, object] = {}
        self.addCleanup(lambda: self.evidence(reads=reads))
        bound = self.model.bounds.identity_staleness_s

        def read_back(label: str) -> None:
            seen = {}

            def same():
                try:
                    seen["blob"] = self._blob_at(self.edge, cred["id"])
                except lib_exc.ServerFault:
                    # Keystone logs "Credential could not be decrypted".
                    seen["blob"] = "HTTP 500"
                    raise RuntimeError(
                        f"HTTP 500 from {self.edge}'s Keystone reading the "
                        "credential") from None
                return seen["blob"] == blob
            try:
                took = self.wait_until(
                    f"the credential read back at {self.edge} after {label}",
                    same, bound)
                reads[label] = {"read_s": round(took, 2)}
            except Exception:
                reads[label] = {"last": seen.get("blob")}
                raise
        read_back("set-up")
        for n in range(1, self.ROTATIONS + 1):
            self._rotate()
            read_back(f"rotation {n}")
            self.assertEqual(blob, self._blob_at(self.root, cred["id"]),
                             f"the DC's own Keystone after rotation {n}")
        self.evidence(rotations=self.ROTATIONS)
