"""Reports area: `api.reports.<resource>`. No services yet.

Add one as described in regos_sdk/README.md ("Adding a service"): a schema module under
`schemas/api/reports/`, a `*Service` in `regos_sdk/reports/<resource>.py`, and one line here.
"""

from __future__ import annotations

from regos_sdk.service import Namespace


class ReportsNamespace(Namespace):
    pass
