"""sheepfold-console: the operator console of a sheepfold fleet.

``GET /-/console`` is one live page: every instance of the fleet (its
capabilities' adapters and phases, Redis latency, database pool use,
requests/s, error rate, p95 latency, WebSockets), the job queues and failed
jobs (retry, discard), and every plugin's statistics section. Every figure
has a JSON twin under ``/-/console/api/``. Browsers sign in at
``/console/sign-in`` with the admin token (:class:`ConsolePass`); the page
stays live over sheepfold-realtime's WebSocket (:class:`ConsoleFeed`) or by
polling. See the operations guide, "The operator console".
"""

from __future__ import annotations

from sheepfold_console.feed import ConsoleFeed
from sheepfold_console.settings import ConsoleSettings
from sheepfold_console.sign_in import ConsolePass

__all__ = ["ConsoleFeed", "ConsolePass", "ConsoleSettings"]
