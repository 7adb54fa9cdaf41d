"""The one permission check: ``platform.allowed(identity, action, resource)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sheepfold.errors import PluginError
from sheepfold.identity.model import Identity

if TYPE_CHECKING:
    from sheepfold.platform import Platform

HOOK = "sheepfold_permission_allowed"
#: The action the admin surface (introspection, realtime publishing, plugin admin routes) is guarded by.
ADMIN = "admin"


class Permissions:
    """Answers "may this identity do this?" by asking the ``sheepfold_permission_allowed`` hook.

    Implementations are asked in the kernel's call order (``tryfirst``,
    registration order, ``trylast``); the first True or False answer is the
    decision, None passes the question on. The kernel's own answer comes
    last (``trylast``): an identity holding ``permissions.admin_role`` is
    allowed every action; when nobody answers, the action is refused. So an
    anonymous caller is allowed nothing unless a plugin says otherwise.
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._impls = platform.plugins.ordered(HOOK)

    def allowed(self, identity: Identity, action: str, resource: str | None = None) -> bool:
        """True when ``identity`` may perform ``action`` (on ``resource``, when given). Synchronous, no I/O."""
        arguments = {"identity": identity, "action": action, "resource": resource, "platform": self._platform}
        for impl in self._impls:
            answer = impl.function(*[arguments[name] for name in impl.argnames])
            if answer is None:
                continue
            if not isinstance(answer, bool):
                raise PluginError(
                    f"returned {type(answer).__name__}, not True, False or None", plugin=impl.plugin_name, hook=HOOK
                )
            return answer
        return False
