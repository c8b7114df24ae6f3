"""`crossroads serve | sim | keys | models | check-config | generation | bench`: the command
line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import socket
import sys
from collections.abc import Callable, Sequence

import msgspec
import uvicorn
import uvloop

from crossroads import __version__
from crossroads import commands as tool_commands
from crossroads.accounts import commands as keys_commands
from crossroads.accounts.modes import UnsafeAuthMode, resolve_auth_mode
from crossroads.accounts.service import AuthMode
from crossroads.app import CrossroadsApp
from crossroads.banner import GRACEFUL_STOP_S
from crossroads.banner import banner as start_banner
from crossroads.catalog import Catalog
from crossroads.demo import (
    has_any_key,
    simulated_catalog,
    start_sim_process,
    stop_sim_process,
)
from crossroads.http_server import RouterHttpProtocol
from crossroads.ledger.sqlite import prepare as prepare_sqlite
from crossroads.observability import setup_logging, shared_metrics_dir
from crossroads.schema import check as schema_check
from crossroads.schema.check import ResponseChecker
from crossroads.settings import ConfigError, Settings, check_redis_url, load_settings
from crossroads.shared_state import MissingExtra, check_extra
from crossroads.shared_state.private_redis import (
    MissingRedisServer,
    PrivateRedis,
    PrivateRedisFailed,
)
from crossroads.shutdown import StopSignals
from crossroads.sim.fleet import catalog_fleet
from crossroads.sim.lifeline import tie_to_parent
from crossroads.sim.profile import load_fleet
from crossroads.sim.server import run_sim
from crossroads.stores import with_database_url
from crossroads.workers import Supervisor, worker_count

STARTUP_FAILURE = 3  # what `uvicorn` exits with when the application cannot start


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossroads", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crossroads {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the router")
    serve.add_argument("--host", default=None, help="default 127.0.0.1 (or [server].host)")
    serve.add_argument("--port", type=int, default=None, help="default 8080 (or [server].port)")
    serve.add_argument("--config", default=None, help="operator TOML file")
    serve.add_argument("--database-url", default=None, metavar="postgresql://…",
                       help="PostgreSQL for the ledger, keys and presets (default: "
                            "[server] database_url, $CROSSROADS_DATABASE_URL, else SQLite "
                            "in state_dir)")
    serve.add_argument("--demo", action="store_true",
                       help="serve from the simulated provider fleet even when keys are set")
    serve.add_argument("--auth", choices=("keys", "open"), default=None,
                       help="keys: every request needs an API key; open: any bearer token "
                            "(loopback only). Default: open on loopback, keys elsewhere "
                            "(or [auth].mode)")
    serve.add_argument("--redis-url", default=None,
                       help="share live stats and breakers with every replica through this "
                            "Redis (redis://[:password@]host:port/db; or [server].redis_url)")
    serve.add_argument("--log-format", choices=("auto", "json", "text"), default=None,
                       help="auto: text on a terminal, JSON otherwise (or [logging].format)")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                       default=None, help="default info (or [logging].level)")
    serve.add_argument("--workers", default=None, metavar="N|auto",
                       help="router processes sharing the port (default 1, or [server].workers;"
                            " auto: one per core). They share state through --redis-url, or "
                            "through a private redis-server crossroads starts")
    keys_commands.add_parser(commands)
    tool_commands.add_parsers(commands)

    sim = commands.add_parser("sim", help="run the simulated providers")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=9100)
    sim.add_argument("--fleet", default=None,
                     help="fleet TOML file (default: a twin of every catalog endpoint)")
    sim.add_argument("--config", default=None,
                     help="operator TOML file whose catalog the default fleet twins")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--time-scale", type=float, default=None,
                     help="multiply every simulated delay (0 = no delays)")
    sim.add_argument("--compress", type=float, default=None,
                     help="run the fleet's timeline (its [[event]]s) this many times faster "
                          "than the wall clock; latencies stay as they are")
    sim.add_argument("--parent-pid", type=int, default=None,
                     help="exit when this process stops being our parent (how serve starts it)")
    return tool_commands.add_examples(parser)


def _raise_file_limit() -> None:
    """Every stream holds two sockets; let the process use all the descriptors it may."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _server_options(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with the command line's --redis-url and --workers over the file's."""
    server = settings.server
    if args.redis_url is not None:
        check_redis_url(args.redis_url)
        server = msgspec.structs.replace(server, redis_url=args.redis_url)
    if args.workers is not None:
        try:
            count = worker_count(args.workers)
        except ValueError:
            count = 0
        if count < 1:
            raise ConfigError(f"--workers {args.workers!r}: a positive number, or auto")
        server = msgspec.structs.replace(server, workers=count)
    return msgspec.structs.replace(settings, server=server)


def serve(args: argparse.Namespace) -> int:
    try:
        settings = _server_options(
            with_database_url(load_settings(args.config), args.database_url), args)
        check_extra(settings)
    except (ConfigError, MissingExtra) as exc:
        print(f"crossroads: invalid configuration: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_format or settings.logging.format,
                  args.log_level or settings.logging.level)
    workers = worker_count(settings.server.workers)
    private_redis = None
    if workers > 1 and settings.server.redis_url is None:
        try:
            private_redis = PrivateRedis()
        except MissingRedisServer as exc:
            print(f"crossroads: refusing to start: {exc}", file=sys.stderr)
            return 2
    host = args.host or settings.server.host
    try:
        auth = resolve_auth_mode(args.auth or settings.auth.mode, host)
    except UnsafeAuthMode as exc:
        print(f"crossroads: refusing to start: {exc}", file=sys.stderr)
        return 2
    _raise_file_limit()
    # From here on a stop request is graceful and the simulator is always stopped last
    # (shutdown.py explains why uvicorn's own handling is not enough).
    with StopSignals() as stop:
        demo = args.demo or not has_any_key(settings.catalog)
        sim_process = None
        catalog = settings.catalog
        if demo:
            # The sim reads the same config, so it builds this very fleet.
            sim_process, sim_url = start_sim_process(
                ["--config", args.config] if args.config else None)
            catalog = simulated_catalog(catalog, sim_url, catalog_fleet(catalog))
        try:
            sock = _listen(args.host or settings.server.host,
                           settings.server.port if args.port is None else args.port)
            if sock is None:
                return 2
            processes = None
            if workers > 1:
                try:
                    settings, processes = _shared_by_workers(settings, workers, private_redis)
                except PrivateRedisFailed as exc:
                    print(f"crossroads: cannot start: {exc}", file=sys.stderr)
                    return 1
            banner = start_banner(settings, catalog, args.host or settings.server.host,
                                  sock.getsockname()[1], demo, auth, processes)
            if workers == 1:
                print(banner, flush=True)
                return _serve_on(sock, settings, catalog, demo, auth, stop)
            return _supervise(workers, sock, settings, catalog, demo, auth, private_redis,
                              banner, stop)
        finally:
            if private_redis is not None:
                private_redis.remove()
            if sim_process:
                stop_sim_process(sim_process)


def _listen(host: str, port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"crossroads: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        sock.close()
        return None
    # Listening before the banner: a client that reads it can connect at once, and the kernel
    # queues it until a server accepts.
    sock.listen(4096)
    return sock


def _shared_by_workers(settings: Settings, workers: int, private_redis: PrivateRedis | None
                       ) -> tuple[Settings, str]:
    """The workers' settings (their Redis, started here when private) and the banner's line
    that says how they share state."""
    server = settings.server
    if private_redis is not None:
        private_redis.start()
        server = msgspec.structs.replace(server, redis_url=private_redis.url)
        line = f"{workers} workers sharing state through a private redis-server"
    else:
        line = f"{workers} workers sharing state through the Redis below"
    # With Redis out of reach each worker takes its share of a key's limits: a share of at
    # least this machine's workers.
    server = msgspec.structs.replace(server, replicas_hint=max(server.replicas_hint, workers))
    return msgspec.structs.replace(settings, server=server), line


def _supervise(workers: int, sock: socket.socket, settings: Settings, catalog: Catalog,
               demo: bool, auth: AuthMode, private_redis: PrivateRedis | None, banner: str,
               stop: StopSignals) -> int:
    def work(index: int, ready: Callable[[], None]) -> int:
        with StopSignals() as worker_stop:
            return _serve_on(sock, settings, catalog, demo, auth, worker_stop, ready)

    if stop.received is not None:
        return stop.exit_status
    if settings.server.database_url is None:
        prepare_sqlite(settings.database_path)
    with shared_metrics_dir():  # one /metrics over every worker (observability/metrics.py)
        return Supervisor(workers, sock, work, private_redis,
                          lambda: print(banner, flush=True)).run()


def _serve_on(sock: socket.socket, settings: Settings, catalog: Catalog, demo: bool,
              auth: AuthMode, stop: StopSignals,
              ready: Callable[[], None] | None = None) -> int:
    app = CrossroadsApp(settings, catalog, simulated=demo, auth_mode=auth)
    config = uvicorn.Config(
        ResponseChecker(app) if schema_check.enabled() else app,
        loop="none",
        http=RouterHttpProtocol,
        lifespan="on",
        access_log=False,
        log_level="warning",
        log_config=None,  # uvicorn's lines go through our handler (setup_logging)
        # Nothing sits in front of the router by default; trusting X-Forwarded-* costs a
        # middleware layer on every request and would let callers spoof their address.
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
        # How long a stop waits for requests in flight before cancelling them.
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    stop.attach(server)
    uvloop.run(_serve_and_report(server, sock, ready))
    if not server.started and stop.received is None:
        # The lifespan startup failed (uvicorn has logged why); uvicorn's own exit status.
        return STARTUP_FAILURE
    return stop.exit_status


async def _serve_and_report(server: uvicorn.Server, sock: socket.socket,
                            ready: Callable[[], None] | None) -> None:
    """Serve; call `ready` once the lifespan startup is done and the socket is served."""
    async def report() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        assert ready is not None
        ready()

    reporter = asyncio.create_task(report()) if ready is not None else None
    try:
        await server.serve(sockets=[sock])
    finally:
        if reporter is not None:
            reporter.cancel()


def sim(args: argparse.Namespace) -> int:
    if args.parent_pid is not None and not tie_to_parent(args.parent_pid):
        print(f"crossroads sim: parent {args.parent_pid} is gone; not starting", file=sys.stderr)
        return 1
    if args.fleet:
        fleet = load_fleet(args.fleet)
    else:
        try:
            fleet = catalog_fleet(load_settings(args.config).catalog, seed=args.seed)
        except ConfigError as exc:
            print(f"crossroads sim: invalid configuration: {exc}", file=sys.stderr)
            return 2
    if args.time_scale is not None:
        fleet = msgspec.structs.replace(fleet, time_scale=args.time_scale)
    if args.compress is not None:
        if args.compress <= 0:
            print("crossroads sim: --compress must be > 0", file=sys.stderr)
            return 2
        fleet = msgspec.structs.replace(fleet, compress=args.compress)
    run_sim(args.host, args.port, fleet, parent_pid=args.parent_pid)
    return 0


COMMANDS = {"serve": serve, "sim": sim, "keys": keys_commands.run, **tool_commands.HANDLERS}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
