"""Local stand-ins on 127.0.0.1 for scripts: a free port, moto_server, a group of child
processes that is always stopped, on success, on failure and on Ctrl-C or SIGTERM, and a
forwarder that lets containers reach them through the Docker bridge's gateway.

Nothing here can reach real AWS or Microsoft: every address is loopback (or the bridge's
gateway, which only this machine's containers reach).
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MOTO = VENV_BIN / "moto_server"

# Credentials and region for the AWS SDK when it talks to moto_server: dummies, never real.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceError(Exception):
    """A local service did not start; the message says which and where its log is."""


class Services:
    """Child processes started in their own process groups and stopped together on exit.

    Use as a context manager. SIGTERM is turned into KeyboardInterrupt while it is open, so a
    killed script still stops what it started.
    """

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen]] = []
        self._previous_sigterm = None

    def __enter__(self) -> "Services":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, *_exc) -> None:
        for _name, child in reversed(self.children):
            stop(child)
        signal.signal(signal.SIGTERM, self._previous_sigterm)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, argv: list[str], env: dict | None = None, **popen) -> subprocess.Popen:
        """Starts `argv` with stderr (and stdout, unless redirected) in `<log_dir>/<name>.log`."""
        log = open(self.log_path(name), "wb")
        popen.setdefault("stdout", log)
        child = subprocess.Popen(
            argv,
            env=env,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
            **popen,
        )
        log.close()  # the child holds its own descriptor
        self.children.append((name, child))
        return child

    def start_moto(self, port: int = 0) -> str:
        """Starts moto_server on `port` of 127.0.0.1 (0: a free one); returns its URL once it
        answers."""
        if not MOTO.exists():
            raise ServiceError(f"{MOTO} is missing; run `make venv` first")
        url = f"http://127.0.0.1:{port or free_port()}"
        port = url.rsplit(":", 1)[1]
        child = self.start("moto_server", [str(MOTO), "-H", "127.0.0.1", "-p", port])
        wait_for_url(url + "/moto-api/", child, "moto_server", self.log_path("moto_server"))
        return url


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def stop(child: subprocess.Popen) -> None:
    """Stops a child's whole process group: SIGTERM, then SIGKILL after 10 s."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def wait_for_url(url: str, child: subprocess.Popen, name: str, log: Path, seconds: float = 60) -> None:
    """Waits until `url` answers any HTTP status, or fails if `child` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise ServiceError(f"{name} exited with code {child.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise ServiceError(f"{name} did not answer on {url} within {seconds:.0f} s; see {log}")


def moto_env(url: str) -> dict:
    """The variables that point the AWS SDK (Secrets Manager, SQS, DynamoDB, SNS) at moto_server."""
    return {
        **MOTO_ENV,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": url,
        "AWS_ENDPOINT_URL_SQS": url,
        "AWS_ENDPOINT_URL_DYNAMODB": url,
        "AWS_ENDPOINT_URL_SNS": url,
        "MOTO_URL": url,
    }


def clean_env(extra: dict) -> dict:
    """This process's environment without any real AWS profile or session, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
    env.update(extra)
    return env


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(1)


class Forwarder:
    """Forwards TCP connections from `listen_host:port` to `127.0.0.1:port`, in threads of
    this process, until `close()`: how a container on Docker's bridge reaches a service that
    listens on loopback only, without listening on every interface."""

    def __init__(self, listen_host: str, port: int):
        self.address = (listen_host, port)
        self._server = socket.create_server(self.address, reuse_port=False)
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                inbound, _ = self._server.accept()
            except OSError:
                return
            try:
                outbound = socket.create_connection(("127.0.0.1", self.address[1]), timeout=10)
            except OSError:
                inbound.close()
                continue
            outbound.settimeout(None)
            for source, target in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copies bytes one way until either side closes, then closes both."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


def docker_bridge_gateway() -> str | None:
    """The gateway address of Docker's default bridge (what `host-gateway` means to a
    container), or None when no Docker engine answers."""
    try:
        done = subprocess.run(
            ["docker", "network", "inspect", "bridge", "--format",
             "{{range .IPAM.Config}}{{.Gateway}}{{end}}"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    gateway = done.stdout.strip()
    # Docker 20.10 leaves the default bridge's gateway out of its IPAM config: it is the
    # address of the bridge's interface (docker0).
    return gateway or _interface_address("docker0")


def _interface_address(name: str) -> str | None:
    """The IPv4 address of interface `name` (Linux: the SIOCGIFADDR ioctl), or None."""
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("256s", name.encode()[:15])
            answer = fcntl.ioctl(s.fileno(), 0x8915, request)  # SIOCGIFADDR
        return socket.inet_ntoa(answer[20:24])
    except (ImportError, OSError):
        return None
