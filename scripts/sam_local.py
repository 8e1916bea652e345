#!/usr/bin/env python3
"""`make sam-local`: every sample event through `sam local invoke`, SAM's own Lambda emulator,
with the recipe README "Invoking locally" gives (events/env.docker.json).

Steps, each saying what it does:
  1. The functions as `make template` built them (.aws-sam/build, built now if missing), for
     the architecture their binaries are.
  2. A Docker engine: the one that answers. When none does and this is Debian or Ubuntu as
     root, Debian's docker.io is installed and dockerd started (and stopped at the end);
     otherwise the script stops and names what is missing.
  3. The base image: SAM's official public.ecr.aws/lambda/provided:al2023 when it can be
     pulled; otherwise a minimal local one made from three Debian packages of the functions'
     architecture (libc6, libgcc-s1, busybox-static). arm64 on an x86_64 machine runs under
     qemu-user-static (binfmt_misc), installed the same way when missing.
  4. moto_server (demo secret, retry queue, ledger table) and the Entra + Graph stand-in on
     127.0.0.1:5000 and :4010, as for `make serve-local`, reachable from containers through
     the Docker bridge's gateway only (host.docker.internal, with --add-host
     host.docker.internal:host-gateway), never on every interface.
  5. Every event in events/, re-signed, through `sam local invoke` (WebhookFunction, or
     RetryFunction for the SQS event, IntuneFunction for the scheduled one), then one redelivery; the same table and checks as
     `make demo --check`.
It stops what it started, and only that. Installed packages and the binfmt registration stay.

Usage: .venv/bin/python scripts/sam_local.py
"""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import check_template
import demo
from local_services import (
    MOTO_ENV,
    ROOT,
    VENV_BIN,
    Forwarder,
    ServiceError,
    Services,
    docker_bridge_gateway,
    fail,
)

BUILD_DIR = check_template.BUILD_DIR
ENV_FILE = ROOT / "events" / "env.docker.json"
LOGS = ROOT / ".venv" / "logs" / "sam-local"
OFFICIAL_IMAGE = "public.ecr.aws/lambda/provided:al2023"
LOCAL_IMAGE = "lost-device-revoker-local/provided:{arch}"
# Debian's names for the functions' architectures.
DEB_ARCH = {"arm64": "arm64", "x86_64": "amd64"}
HOST_ARCH = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
# The ports events/env.docker.json names.
MOTO_PORT = 5000
STANDIN_PORT = 4010
FUNCTIONS = {"webhook": "WebhookFunction", "retry": "RetryFunction", "intune": "IntuneFunction"}
INVOKE_TIMEOUT_SECONDS = 300
# SAM prints this, and no answer, when its emulator in the container was not listening yet
# (it tries for 0.7 s): the event never reached the function, so the invoke is run again.
NOT_LISTENING = b"No response from invoke container"
INVOKE_ATTEMPTS = 3


def say(message: str) -> None:
    print(f"sam-local: {message}", flush=True)


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], **kwargs)


# ---- 1. the build -------------------------------------------------------------------------


def built_architecture() -> str:
    """The architecture of the functions in .aws-sam/build, building them when missing."""
    binaries = [BUILD_DIR / f / "bootstrap" for f in FUNCTIONS.values()]
    if not all(b.is_file() for b in binaries) or not (BUILD_DIR / "template.yaml").is_file():
        say("no sam build output in .aws-sam/build: building (as `make template` does)")
        check_template.sam_home()
        check_template.build(check_template.offline_env())
    machines = {check_template.elf_machine(b) for b in binaries}
    if len(machines) != 1 or not machines <= set(DEB_ARCH):
        fail(f"sam-local: the built functions are {sorted(machines)}; rebuild with `make template`")
    return machines.pop()


# ---- 2. the Docker engine -----------------------------------------------------------------


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, text=True, timeout=30,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def can_install() -> bool:
    """Debian or Ubuntu, as root: the packages this script needs can be installed."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    release = Path("/etc/os-release")
    text = release.read_text() if release.is_file() else ""
    fields = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line
    )
    ids = {fields.get("ID", "").strip('"')} | set(fields.get("ID_LIKE", "").strip('"').split())
    return bool(ids & {"debian", "ubuntu"})


_apt_updated = False


def apt_install(*packages: str) -> None:
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        if run(["apt-get", "update", "-qq"], env=env).returncode != 0:
            fail("sam-local: apt-get update failed")
        _apt_updated = True
    done = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)
    if done.returncode != 0:
        fail(f"sam-local: could not install {', '.join(packages)}")


def ensure_docker(services: Services) -> None:
    if docker_answers():
        say("a Docker engine answers")
        return
    if not can_install():
        fail(
            "sam-local: no Docker engine answers (`docker info` fails). Start Docker (Docker "
            "Desktop, or `sudo systemctl start docker`), or run as root on Debian or Ubuntu, "
            "where this script installs docker.io and starts dockerd itself."
        )
    if shutil.which("dockerd") is None:
        say("no Docker engine: installing Debian's docker.io")
        apt_install("docker.io")
        # Where systemd runs, the package starts its own engine: that one is used, and kept.
        if docker_answers():
            say("the installed docker.io service answers: using it")
            return
    say("starting dockerd (stopped again at the end)")
    # Without the userland proxy, a published port refuses connections until the container
    # listens on it, so SAM waits for the runtime emulator instead of posting the event to a
    # proxy that then drops it (slow under qemu).
    dockerd = services.start(
        "dockerd", ["dockerd", "--host", "unix:///var/run/docker.sock", "--userland-proxy=false"]
    )
    deadline = time.monotonic() + 90
    while not docker_answers():
        if dockerd.poll() is not None or time.monotonic() > deadline:
            raise ServiceError(f"dockerd did not start; see {services.log_path('dockerd')}")
        time.sleep(1)
    say("dockerd answers")


# ---- 3. the base image ----------------------------------------------------------------------


def image_exists(image: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return done.returncode == 0


def ensure_emulation(arch: str) -> None:
    """arm64 images on an x86_64 machine need qemu-user-static registered with binfmt_misc."""
    host = HOST_ARCH.get(platform.machine(), platform.machine())
    if host == arch:
        return
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    entry = binfmt / "qemu-aarch64"
    if entry.is_file() and "enabled" in entry.read_text():
        say("qemu-aarch64 is registered with binfmt_misc")
        return
    if not can_install():
        fail(
            f"sam-local: the functions are {arch} and this machine is {host}: register "
            "qemu-user-static with binfmt_misc (Debian: apt-get install qemu-user-static "
            "binfmt-support), or build for this machine's architecture"
        )
    if shutil.which("update-binfmts") is None or not Path("/usr/bin/qemu-aarch64-static").exists():
        say(f"{arch} functions on {host}: installing qemu-user-static and binfmt-support")
        apt_install("qemu-user-static", "binfmt-support")
    if not (binfmt / "register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)])
    run(["update-binfmts", "--enable", "qemu-aarch64"])
    if not (entry.is_file() and "enabled" in entry.read_text()):
        fail("sam-local: qemu-aarch64 could not be registered with binfmt_misc")
    say("qemu-aarch64 registered with binfmt_misc")


def base_image(arch: str) -> str:
    """SAM's official image when it can be pulled; otherwise the minimal local one."""
    platform_name = f"linux/{DEB_ARCH[arch]}"
    try:
        pulled = run(
            ["docker", "pull", "--platform", platform_name, OFFICIAL_IMAGE],
            capture_output=True, text=True, timeout=120,
        )
        if pulled.returncode == 0:
            say(f"base image: the official {OFFICIAL_IMAGE}")
            return OFFICIAL_IMAGE
    except subprocess.TimeoutExpired:
        pass
    image = LOCAL_IMAGE.format(arch=arch)
    say(f"{OFFICIAL_IMAGE} cannot be pulled (no registry): using the local image {image}")
    if image_exists(image):
        return image
    if not can_install():
        fail(
            f"sam-local: {OFFICIAL_IMAGE} cannot be pulled, and the local image needs "
            "Debian's apt-get as root to fetch libc6, libgcc-s1 and busybox-static"
        )
    build_local_image(arch, image)
    return image


def build_local_image(arch: str, image: str) -> None:
    """A root file system of libc6, libgcc-s1 and busybox-static for `arch`, imported as
    `image`: enough for the functions (dynamically linked to glibc) and for the Dockerfile SAM
    puts on top (`/bin/sh`, `mv`, `chmod`)."""
    deb_arch = DEB_ARCH[arch]
    native = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True
    ).stdout.strip()
    global _apt_updated
    if deb_arch != native:
        foreign = subprocess.run(
            ["dpkg", "--print-foreign-architectures"], capture_output=True, text=True
        ).stdout.split()
        if deb_arch not in foreign:
            say(f"adding the {deb_arch} architecture to dpkg, to download its packages")
            run(["dpkg", "--add-architecture", deb_arch], check=True)
            _apt_updated = False
    if not _apt_updated:
        run(["apt-get", "update", "-qq"], check=True)
        _apt_updated = True
    with tempfile.TemporaryDirectory(prefix="sam-local-image-") as work:
        work_dir = Path(work)
        work_dir.chmod(0o755)  # apt-get download writes as its sandbox user where it can
        packages = [f"{name}:{deb_arch}" for name in ("libc6", "libgcc-s1", "busybox-static")]
        run(["apt-get", "download", *packages], cwd=work_dir, check=True)
        rootfs = work_dir / "rootfs"
        rootfs.mkdir()
        for deb in sorted(work_dir.glob("*.deb")):
            run(["dpkg-deb", "-x", deb, rootfs], check=True)
        for directory in ("bin", "tmp", "var/task", "var/runtime", "opt", "etc"):
            (rootfs / directory).mkdir(parents=True, exist_ok=True)
        (rootfs / "tmp").chmod(0o1777)
        busybox = rootfs / "bin" / "busybox"
        if not busybox.is_file():
            fail("sam-local: busybox-static did not unpack a /bin/busybox")
        for applet in ("sh", "mv", "chmod", "cp", "rm", "mkdir", "ls", "cat", "ln", "true"):
            link = rootfs / "bin" / applet
            if not link.exists():
                link.symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        tar = run(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE, check=True).stdout
        changes = [
            "ENV PATH=/usr/local/bin:/usr/bin:/bin",
            "ENV LAMBDA_TASK_ROOT=/var/task",
            "ENV LAMBDA_RUNTIME_DIR=/var/runtime",
            "WORKDIR /var/task",
        ]
        argv = ["docker", "import", "--platform", f"linux/{deb_arch}"]
        for change in changes:
            argv += ["--change", change]
        print("$ " + " ".join(argv + ["-", image]), flush=True)
        subprocess.run(argv + ["-", image], input=tar, check=True, stdout=subprocess.DEVNULL)
    say(f"built {image} from Debian's {deb_arch} packages")


# ---- 4. the local services ------------------------------------------------------------------


def start_services(services: Services) -> tuple[str, str, list[Forwarder]]:
    """moto_server and the stand-in on the ports events/env.docker.json names, and their
    forwarders on the Docker bridge's gateway."""
    moto_url = services.start_moto(port=MOTO_PORT)
    standin_url = demo.start_standin(services, port=STANDIN_PORT)
    gateway = docker_bridge_gateway()
    if gateway is None and sys.platform == "linux":
        raise ServiceError("cannot find the address of Docker's bridge (docker0)")
    if gateway is None:
        # Docker Desktop: host.docker.internal reaches the host's loopback by itself.
        say(f"moto_server {moto_url} and the stand-in {standin_url}; no bridge interface on "
            "this host, so containers reach them as host.docker.internal directly")
        return moto_url, standin_url, []
    forwarders = [Forwarder(gateway, MOTO_PORT), Forwarder(gateway, STANDIN_PORT)]
    say(f"moto_server {moto_url} and the stand-in {standin_url}, reachable from containers "
        f"at {gateway} (host.docker.internal)")
    return moto_url, standin_url, forwarders


# ---- 5. the invocations ---------------------------------------------------------------------


def invoke(function: str, event: Path, image: str, arch: str) -> dict:
    """One `sam local invoke`; the function's JSON answer (the last line SAM prints)."""
    env = check_template.offline_env()
    env.update(MOTO_ENV)
    env["AWS_DEFAULT_REGION"] = MOTO_ENV["AWS_REGION"]  # the region SAM itself reads
    env.pop("AWS_ENDPOINT_URL", None)
    argv = [
        VENV_BIN / "sam", "local", "invoke", FUNCTIONS[function],
        "--template", BUILD_DIR / "template.yaml",
        # The Intune poller exists only where it is enabled.
        "--parameter-overrides", f"Architecture={arch} EnableIntune=true",
        "--event", event,
        "--env-vars", ENV_FILE,
        "--add-host", "host.docker.internal:host-gateway",
        "--invoke-image", image,
        "--skip-pull-image",
    ]
    log = LOGS / f"invoke-{event.stem}.log"
    print("$ " + " ".join(str(a) for a in argv), flush=True)
    for attempt in range(1, INVOKE_ATTEMPTS + 1):
        done = subprocess.run(
            [str(a) for a in argv], cwd=ROOT, env=env, capture_output=True,
            timeout=INVOKE_TIMEOUT_SECONDS,
        )
        log.write_bytes(done.stderr)
        if NOT_LISTENING not in done.stderr or attempt == INVOKE_ATTEMPTS:
            break
        say(f"SAM's emulator was not listening yet ({event.name}, attempt {attempt}): again")
    lines = [line for line in done.stdout.decode().splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise ServiceError(f"sam local invoke {FUNCTIONS[function]} {event.name} failed; see {log}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        raise ServiceError(f"sam local invoke printed no JSON answer for {event.name}; see {log}")


def run_events(standin_url: str, events: list[Path], image: str, arch: str) -> list[tuple]:
    rows = []
    again = [e for e in events if e.name == demo.REDELIVERED]
    for event, name in [(e, e.name) for e in events] + [(e, f"{e.name} (again)") for e in again]:
        before = len(demo.revoked_users(standin_url))
        function = demo.function_for(event)
        status, outcome = demo.summary(function, invoke(function, event, image, arch))
        users = sorted(demo.revoked_users(standin_url)[before:])
        rows.append((name, status, outcome, users))
    return rows


def main() -> int:
    started = time.monotonic()
    LOGS.mkdir(parents=True, exist_ok=True)
    arch = built_architecture()
    say(f"the functions in .aws-sam/build are {arch}")
    demo.build()
    with Services(LOGS) as services:
        forwarders: list[Forwarder] = []
        try:
            ensure_docker(services)
            ensure_emulation(arch)
            image = base_image(arch)
            moto_url, standin_url, forwarders = start_services(services)
            demo.seed_moto(moto_url)
            events = demo.signed_copies()
            say(f"invoking {len(events)} events with sam local invoke ({ENV_FILE.relative_to(ROOT)})")
            rows = run_events(standin_url, events, image, arch)
            records = demo.ledger_records(moto_url)
        except (ServiceError, subprocess.SubprocessError, OSError) as e:
            fail(f"sam-local: {e}\nlogs: {LOGS}")
        except KeyboardInterrupt:
            fail("sam-local: interrupted; everything it started is stopped")
        finally:
            for forwarder in forwarders:
                forwarder.close()
    demo.print_table(rows)
    demo.print_ledger(records)
    problems = demo.differences(rows) + demo.unrecorded(rows, records)
    seconds = time.monotonic() - started
    if problems:
        print("sam-local: check failed:", *problems, sep="\n  ")
        print(f"logs: {LOGS}")
        return 1
    say(f"all {len(rows)} events gave the expected status, outcome and revocations through "
        f"sam local invoke, in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
