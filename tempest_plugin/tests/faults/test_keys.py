"""Day 2: fernet key rotation at the DC, as the deployment does it, and
tokens that must stay valid across sites through it."""

import subprocess

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from edge_refarch.tempest_plugin.requirement import requirement
from edge_refarch.tempest_plugin.tests import base

CONF = config.CONF
ROTATE_TIMEOUT_S = 120


class KeyRotationTest(base.EdgeRefarchTest):

    partition_mode = "refused"

    def _rotate(self) -> str:
        """Run the deployment's rotation procedure once; its output."""
        cmd = CONF.edge_refarch.key_rotation_command
        if not cmd:
            raise self.skipException(
                "not run: no key rotation procedure configured "
                "([edge_refarch] key_rotation_command)")
        proc = subprocess.run(cmd, shell=True, capture_output=True,
                              text=True, timeout=ROTATE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
        said = (proc.stdout + proc.stderr).strip()
        if proc.returncode:
            self.fail(f"the key rotation procedure failed (exit "
                      f"{proc.returncode}): {said.splitlines()[-1:]}")
        return said

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
        validation unless the deployment distributes them."""
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
        self.injector().heal(self.link_of(self.edge))
        self._converged("the heal", matrix)
        self.evidence(rotations=2 + tolerated)
        refused = [k for k, ok in during.items() if not ok]
        if refused:
            self.fail(f"with {self.edge} cut off for {tolerated} "
                      f"rotation(s), tokens are refused {', '.join(refused)}"
                      " (the model tolerates that many)")


class KeyRotationBlackholeTest(KeyRotationTest):
    """The same, with the link cut as a black hole (connections accepted,
    nothing flows), as most real WAN outages are."""

    partition_mode = "blackhole"
