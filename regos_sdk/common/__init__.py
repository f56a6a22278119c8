"""Common area: `api.common.<resource>`. No services yet.

Add one as described in regos_sdk/README.md ("Adding a service"): a schema module under
`schemas/api/common/`, a `*Service` in `regos_sdk/common/<resource>.py`, and one line here.
"""

from __future__ import annotations

from regos_sdk.service import Namespace


class CommonNamespace(Namespace):
    pass
