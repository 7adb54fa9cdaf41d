"""nginx in front of the instances: a config generated into the run folder, loopback only.

h2load sends the same headers on every connection; to give each request its
own signed-in user, every URI of the load carries the session cookie's value
(``s``) and the user it belongs to (``u``), and nginx moves ``s`` into the
``Cookie`` header: the instances see an ordinary session cookie. The access
log records, per request, the status, the time, the user the client was
signed in as and the user the route says it served (``X-Fleet-Subject``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.fleet.services import Service, accepts, free_port, wait_for

APT_PACKAGES = "nginx nghttp2-client"

_CONFIG = """\
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    client_body_temp_path {folder}/nginx-temp;
    proxy_temp_path {folder}/nginx-temp;
    log_format fleet escape=none '$msec\\t$status\\t$request_time\\t$uri\\t$arg_u\\t$upstream_http_x_fleet_subject';
    access_log {access_log} fleet buffer=256k flush=1s;
    map $arg_s $fleet_cookie {{ "" ""; default "{cookie}=$arg_s"; }}
    upstream fleet {{
{servers}
        # Above the requests in flight at the bar's 4,000/s (about 400 at 100 ms): with 256, nginx closed the
        # connection each finished request freed, and 2 of 3 requests paid for a new one (CPU and latency).
        keepalive 1024;
        # Below uvicorn's keep-alive timeout (5 s): nginx must not reuse a connection uvicorn is closing
        # (a reset, which with max_fails marked a healthy instance down and gave 502s).
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://fleet;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Cookie $fleet_cookie;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def missing_tools() -> list[str]:
    """The tools a run needs that are not installed (nginx, h2load)."""
    return [
        tool for tool in ("nginx", "h2load") if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]


class Nginx(Service):
    def __init__(self, folder: Path, side: str, upstream_ports: list[int], cookie: str) -> None:
        self.port = free_port()
        self.access_log = folder / f"access-{side}.log"
        (folder / "nginx-temp").mkdir(exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=2s;" for port in upstream_ports)
        config = folder / f"nginx-{side}.conf"
        config.write_text(
            _CONFIG.format(folder=folder, access_log=self.access_log, cookie=cookie, servers=servers, port=self.port)
        )
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        command = [binary, "-p", str(folder), "-c", str(config), "-e", str(folder / "nginx-error.log")]
        super().__init__("nginx", command, folder / "nginx.log")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_for(lambda: accepts(self.port), "nginx")
