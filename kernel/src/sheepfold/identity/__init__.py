"""Who is calling, and what they may do: :class:`Identity`, resolved once per request; one permission check.

- ``await platform.identify(request)`` (or a handler parameter
  ``identity: Identity``) gives the request's identity, asked of the
  ``sheepfold_identity_from_request`` hook once and remembered on the request.
- ``platform.allowed(identity, action, resource=None)`` asks the
  ``sheepfold_permission_allowed`` hook; by default the ``admin`` role
  (``permissions.admin_role``) may do everything and nobody else anything.
"""

from __future__ import annotations

from sheepfold.identity.binding import IdentityBinder
from sheepfold.identity.model import ANONYMOUS, Identity
from sheepfold.identity.permissions import ADMIN, Permissions
from sheepfold.identity.resolution import IdentityResolver

__all__ = ["ADMIN", "ANONYMOUS", "Identity", "IdentityBinder", "IdentityResolver", "Permissions"]
