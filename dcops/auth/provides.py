"""What auth provides to the platform: the API role guard and the operator-scope check on writes."""

from dcops.auth.deps import Allow
from dcops.auth.scopes import require_serves
from dcops.crud import AGENCY_GUARD
from dcops.routing import ROLE_GUARD

ROLE_GUARD.register(Allow)
AGENCY_GUARD.register(require_serves)
