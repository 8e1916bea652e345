#!/usr/bin/env python3
"""Run a command with a private moto_server (local Secrets Manager / SQS) on 127.0.0.1.

Usage: scripts/with_moto.py -- COMMAND [ARGS...]

Picks a free loopback port, starts .venv/bin/moto_server there, waits until it answers, runs
COMMAND with the AWS SDK pointed at it (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_SQS,
dummy credentials, a region), then stops the server, also on failure or Ctrl-C. Exits with
COMMAND's exit code. Nothing here can reach real AWS: the endpoints are loopback only.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOTO = ROOT / ".venv" / "bin" / "moto_server"
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"with_moto: moto_server exited early with code {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"with_moto: moto_server did not answer on {url} within {STARTUP_SECONDS} s")


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    if not MOTO.exists():
        sys.exit(f"with_moto: {MOTO} is missing; run `make venv` first")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(ROOT / ".venv" / "moto_server.log", "wb")
    server = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(url, server)
        env = dict(os.environ)
        env.update(
            AWS_ENDPOINT_URL_SECRETS_MANAGER=url,
            AWS_ENDPOINT_URL_SQS=url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            MOTO_URL=url,
        )
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        child = subprocess.Popen(args, env=env)
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
