"""Schemathesis hooks for tests/api/schemathesis.sh.

Schemathesis learns real ids from responses (the audit log and the member
list name them) and reuses them. Deleting or demoting the very token the run
authenticates with, or its member, would leave every later request
(correctly) refused and nothing more tested, so cases aimed at those two ids
are pointed at an id nobody has instead; every other id is fair game.
"""

import os

import schemathesis

PROTECTED = {v for v in os.environ.get("LATCHKEY_FUZZ_PROTECTED", "").split(",") if v}


# The right shape, and no token or member has it: the case still runs (a 404).
NOBODY = "0123456789abcdef01234567"


@schemathesis.hook
def map_case(ctx, case):
    params = case.path_parameters
    if params and params.get("id") in PROTECTED:
        params["id"] = NOBODY
    return case
