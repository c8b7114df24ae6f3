"""nginx as a bare reverse proxy in front of the same simulators: the cost of one C proxy hop on
this machine, a floor to read the gateways' costs against (not a competitor: it routes nothing,
bills nothing, translates nothing).

Debian's nginx, one worker (`worker_processes 1`, so one core like every gateway), in the
foreground (`daemon off`), every file it writes in the run's temp dir, no access log,
HTTP/1.1 to the upstreams with a pool of 64 idle keep-alive connections each. The streaming
location turns response buffering off, as anyone putting SSE behind nginx does; otherwise nginx
may hold chunks back and the inter-chunk gaps would measure its buffers, not its hop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from targets import Target, free_port, launch, pin

# Not on a non-root PATH on Debian, hence the fallback.
_SBIN = "/usr/sbin/nginx"
NGINX = shutil.which("nginx") or (_SBIN if os.access(_SBIN, os.X_OK) else None)

CONFIG = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    upstream fast {{ server {fast}; keepalive 64; }}
    upstream stream {{ server {slow}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location /echo/ {{
            proxy_pass http://fast;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location /stream/ {{
            proxy_pass http://stream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


def _version(binary: str) -> str:
    # `nginx -v` writes "nginx version: nginx/1.22.1" to stderr.
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().rpartition("/")[2] or "?"


def nginx_target(tmp: Path, fast: str, slow: str) -> Target:
    """Start nginx (pinned to core 0) in front of the fast and streaming sims; caller waits."""
    assert NGINX is not None
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        CONFIG.format(tmp=tmp, port=port, fast=urlsplit(fast).netloc, slow=urlsplit(slow).netloc)
    )
    auth = {"authorization": "Bearer bench"}
    t = Target(
        "nginx",
        f"http://127.0.0.1:{port}/echo/v1/chat/completions",
        auth,
        auth,
        "bench/echo",
        "bench/stream",
        stream_url=f"http://127.0.0.1:{port}/stream/v1/chat/completions",
        version=_version(NGINX),
    )
    # -e: where errors go before the config is read (the default path needs root); stderr
    # lands in nginx.log, whose tail wait_ready shows if nginx does not come up.
    command = [*pin(0), NGINX, "-p", str(tmp), "-e", "stderr", "-c", str(conf)]
    launch(t, command, tmp / "nginx.log", None, tmp)
    return t
