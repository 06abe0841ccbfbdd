"""Schemathesis hooks for tests/api/schemathesis.sh.

Schemathesis learns real ids from responses (the audit log and the member
list name them) and reuses them. Deleting or demoting the very token the run
authenticates with, or its member, would leave every later request
(correctly) refused and nothing more tested, so cases aimed at those two ids
are pointed at an id nobody has instead; every other id is fair game.

Leak reports (`POST /credentials/revoke`) need no token and revoke every
live secret in their body. Schemathesis only knows the driving secret as a
header and does not copy headers into bodies, but should a generated body
ever hold it, it is swapped for a string that is not a secret.
"""

import os

import schemathesis

PROTECTED = {v for v in os.environ.get("LATCHKEY_FUZZ_PROTECTED", "").split(",") if v}
SECRET = os.environ.get("LATCHKEY_FUZZ_SECRET", "")


# The right shape, and no token or member has it: the case still runs (a 404).
NOBODY = "0123456789abcdef01234567"


def without_secret(value):
    """`value` with every occurrence of the driving secret replaced."""
    if isinstance(value, str):
        return value.replace(SECRET, "not-the-driving-secret") if SECRET else value
    if isinstance(value, list):
        return [without_secret(v) for v in value]
    if isinstance(value, dict):
        return {without_secret(k): without_secret(v) for k, v in value.items()}
    return value


@schemathesis.hook
def map_case(ctx, case):
    params = case.path_parameters
    if params and params.get("id") in PROTECTED:
        params["id"] = NOBODY
    case.body = without_secret(case.body)
    return case
