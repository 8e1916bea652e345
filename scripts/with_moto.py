#!/usr/bin/env python3
"""Run a command with a private moto_server (local Secrets Manager / SQS) on 127.0.0.1.

Usage: scripts/with_moto.py -- COMMAND [ARGS...]

Picks a free loopback port, starts .venv/bin/moto_server there, waits until it answers, runs
COMMAND with the AWS SDK pointed at it (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_SQS,
dummy credentials, a region), then stops the server, also on failure or Ctrl-C. Exits with
COMMAND's exit code. Nothing here can reach real AWS: the endpoints are loopback only.
"""

import signal
import subprocess
import sys

from local_services import ROOT, ServiceError, Services, clean_env, fail, moto_env


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    with Services(ROOT / ".venv" / "logs" / "with_moto") as services:
        try:
            url = services.start_moto()
        except ServiceError as e:
            fail(f"with_moto: {e}")
        child = subprocess.Popen(args, env=clean_env(moto_env(url)))
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()


if __name__ == "__main__":
    sys.exit(main())
