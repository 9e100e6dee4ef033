"""After the suite deletes a federated user, its next login is
in a later whole second than the deletion (base._next_second): Keystone
refuses a token issued within the second of a revocation event."""

import math
import time

from edge_refarch.tempest_plugin.tests import base


def test_the_clock_is_in_a_later_second():
    before = time.time()
    base._next_second()
    assert math.floor(time.time()) > math.floor(before)
