#!/usr/bin/env python3
"""`make demo`: the whole flow on this machine, with nothing real contacted.

Starts moto_server (a local Secrets Manager, SQS and DynamoDB) seeded with
examples/demo-secret.json, the retry queue and the ledger table, the Entra + Graph stand-in, and `cargo lambda watch` (a local Lambda runtime)
serving the `webhook`, `retry` and `intune` binaries; re-signs a copy of every file in events/ and
invokes each with `cargo lambda invoke` (HTTP events to `webhook`, the SQS event to `retry`,
the scheduled event to `intune`, which reads the stand-in's Intune audit records),
then one of them again (a redelivery, which the ledger answers `duplicate`); prints a table of
event, HTTP status, outcome and the users the stand-in recorded as revoked, and the ledger's
records.
Everything it started is stopped on exit, on failure, on Ctrl-C and on SIGTERM.

Usage: .venv/bin/python scripts/demo.py [--check | --serve]
  --check   also compare the table with the expected one, and the function's log with the
            demo secret's values, and exit 1 on any difference or leak (`make test` runs this).
  --serve   only start moto_server on 127.0.0.1:5000 (demo secret, retry queue, ledger) and the
            stand-in on 127.0.0.1:4010, as events/env.json expects, until Ctrl-C: for
            `sam local invoke` or your own `cargo lambda watch`. With a Docker engine, both
            are also forwarded from Docker's bridge gateway, for containers
            (events/env.docker.json).
Logs of every process: .venv/logs/demo/.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from local_services import (
    MOTO_ENV,
    ROOT,
    VENV_BIN,
    Forwarder,
    ServiceError,
    Services,
    clean_env,
    docker_bridge_gateway,
    fail,
    free_port,
    moto_env,
)

EVENTS = ROOT / "events"
DEMO_SECRET = ROOT / "examples" / "demo-secret.json"
SECRET_ID = "lost-device-revoker/demo"
QUEUE_NAME = "lost-device-revoker-retry"
LEDGER_TABLE = "lost-device-revoker-ledger"
# Sent a second time after every event has run: a sender's redelivery.
REDELIVERED = "standard-device-lost.json"
WORK = ROOT / ".venv" / "demo"
LOGS = ROOT / ".venv" / "logs" / "demo"
CARGO_LAMBDA = VENV_BIN / "cargo-lambda"
INVOKE_TIMEOUT_SECONDS = 60
# Files in events/ that are not webhook requests: the variables for sam local (on the host's
# network, and from a container).
NOT_WEBHOOK_EVENTS = {"env.json", "env.docker.json"}

# What each sample event must produce: (HTTP status, outcome, users revoked at the stand-in).
# The SQS event goes to the retry function, which has no HTTP status.
EXPECTED = {
    "health.json": ("200", "healthy", []),
    "jamf-lost-mode-command.json": ("200", "revoked", ["erin@contoso.com"]),
    "jamf-smart-group-lost.json": ("200", "revoked", ["carol@contoso.com", "dave@contoso.com"]),
    "jamf-unrelated-event.json": ("200", "ignored", []),
    "relay-device-stolen.json": ("200", "revoked", ["6f1c2a1e-8f5b-4c1d-9e2a-0123456789ab"]),
    "standard-device-lost.json": ("200", "revoked", ["alice@contoso.com"]),
    "sqs-retry-job.json": ("-", "all done", ["jdoe@contoso.com"]),
    "intune-scheduled-run.json": ("-", "2 revoked", ["kim@contoso.com", "mia@contoso.com"]),
    f"{REDELIVERED} (again)": ("200", "duplicate", []),
}


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def build() -> None:
    """Builds the function as `cargo lambda watch` will run it, and the two dev programs."""
    print("demo: building (the first build takes several minutes)", flush=True)
    for args in (
        ["--package", "lost-device-revoker", "--bin", "webhook", "--bin", "retry", "--bin", "intune"],
        ["--package", "lost-device-revoker", "--example", "entra-graph-standin", "--example", "sign-event"],
    ):
        subprocess.run(["cargo", "build", "--quiet", *args], cwd=ROOT, check=True)


def aws(moto_url: str, service: str):
    """A boto3 client for `service` at moto_server."""
    import boto3  # from .venv, installed with moto

    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=MOTO_ENV["AWS_REGION"],
        aws_access_key_id=MOTO_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=MOTO_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def seed_moto(moto_url: str) -> str:
    """Stores the demo secret, creates the retry queue and the ledger table (shaped as
    template.yaml makes it); returns the queue's URL."""
    aws(moto_url, "secretsmanager").create_secret(
        Name=SECRET_ID, SecretString=DEMO_SECRET.read_text()
    )
    dynamodb = aws(moto_url, "dynamodb")
    dynamodb.create_table(
        TableName=LEDGER_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    dynamodb.update_time_to_live(
        TableName=LEDGER_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    return aws(moto_url, "sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]


def ledger_records(moto_url: str) -> list[tuple[str, str, str]]:
    """Every decision in the ledger table: (event, user, outcome or state)."""
    items = aws(moto_url, "dynamodb").scan(TableName=LEDGER_TABLE)["Items"]
    records = []
    for item in items:
        text = {k: next(iter(v.values())) for k, v in item.items()}
        if text.get("kind") == "decision":
            event = text["pk"].removeprefix("decision#")
            user = text["sk"].removeprefix("user#")
            records.append((event, user, text.get("outcome", text.get("state", "?"))))
    return sorted(records)


def start_standin(services: Services, port: int = 0) -> str:
    """Starts the stand-in with the demo app's credentials; returns its URL."""
    secret = json.loads(DEMO_SECRET.read_text())
    child = services.start(
        "entra-graph-standin",
        [
            str(target_dir() / "debug" / "examples" / "entra-graph-standin"),
            "--port", str(port),
            "--tenant", secret["tenant_id"],
            "--client-id", secret["client_id"],
            "--client-secret", secret["client_secret"],
            # Intune's side: two lost-mode devices and a remote lock, minutes ago.
            "--intune-demo",
        ],
        stdout=subprocess.PIPE,
    )
    line = child.stdout.readline().decode().strip()
    if not line.startswith("listening "):
        raise ServiceError(
            f"the stand-in did not start; see {services.log_path('entra-graph-standin')}"
        )
    return line.removeprefix("listening ")


def signed_copies() -> list[Path]:
    """Copies events/*.json to a scratch folder and re-signs them there, leaving events/ as is."""
    folder = WORK / "events"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copies = []
    for event in sorted(EVENTS.glob("*.json")):
        if event.name in NOT_WEBHOOK_EVENTS:
            continue
        copy = folder / event.name
        shutil.copyfile(event, copy)
        copies.append(copy)
    signer = target_dir() / "debug" / "examples" / "sign-event"
    subprocess.run(
        [str(signer), "--secret", str(DEMO_SECRET), *map(str, copies)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return copies


def start_watch(services: Services, env: dict) -> int:
    """Starts `cargo lambda watch` serving the package's binaries (`webhook`, `retry`, `intune`), each
    invoked by its name; returns the invoke port."""
    port = free_port()
    services.start(
        "cargo-lambda-watch",
        [
            str(CARGO_LAMBDA), "lambda", "watch",
            "--invoke-address", "127.0.0.1",
            "--invoke-port", str(port),
            "--ignore-changes",
            "--package", "lost-device-revoker",
        ],
        env=env,
    )
    return port


def function_for(event: Path) -> str:
    """`retry` for SQS events, `intune` for EventBridge's scheduled event, `webhook` for HTTP
    events."""
    body = json.loads(event.read_text())
    if body.get("detail-type") == "Scheduled Event":
        return "intune"
    records = body.get("Records") or [{}]
    return "retry" if records[0].get("eventSource") == "aws:sqs" else "webhook"


def invoke(port: int, function: str, event: Path) -> dict:
    """Sends one event to `function` through `cargo lambda invoke`; returns its JSON answer."""
    done = subprocess.run(
        [
            str(CARGO_LAMBDA), "lambda", "invoke", function,
            "--invoke-address", "127.0.0.1",
            "--invoke-port", str(port),
            "--data-file", str(event),
            "--output-format", "json",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=INVOKE_TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        raise ServiceError(
            f"cargo lambda invoke {function} {event.name} failed: {done.stderr.decode().strip()}"
        )
    return json.loads(done.stdout)


def summary(function: str, answer: dict) -> tuple[str, str]:
    """The table's status and outcome: the HTTP answer's, or what the retry batch reported."""
    if function == "intune":
        owed = f", {answer['owed']} owed" if answer.get("owed") else ""
        return "-", f"{answer['revoked']} revoked{owed}"
    if function == "retry":
        failures = answer.get("batchItemFailures", [])
        return "-", f"{len(failures)} returned to the queue" if failures else "all done"
    return str(answer["statusCode"]), json.loads(answer["body"]).get("outcome", "?")


def wait_until_invocable(port: int, services: Services, probe: Path) -> None:
    """The first invocation starts the function; retry until the emulator answers."""
    deadline = time.monotonic() + 120
    while True:
        try:
            invoke(port, "webhook", probe)
            return
        except (ServiceError, json.JSONDecodeError) as e:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{e}\nsee {services.log_path('cargo-lambda-watch')}"
                ) from None
            time.sleep(0.5)


def revoked_users(standin_url: str) -> list[str]:
    with urllib.request.urlopen(standin_url + "/_standin/revocations", timeout=5) as r:
        return [entry["user"] for entry in json.load(r)]


def run_events(standin_url: str, port: int, events: list[Path]) -> list[tuple]:
    rows = []
    again = [e for e in events if e.name == REDELIVERED]
    for event, name in [(e, e.name) for e in events] + [(e, f"{e.name} (again)") for e in again]:
        before = len(revoked_users(standin_url))
        function = function_for(event)
        status, outcome = summary(function, invoke(port, function, event))
        users = sorted(revoked_users(standin_url)[before:])
        rows.append((name, status, outcome, users))
    return rows


def print_ledger(records: list[tuple[str, str, str]]) -> None:
    print(f"ledger ({LEDGER_TABLE}): {len(records)} decisions")
    for event, user, outcome in records:
        print(f"  {event}  {user}  {outcome}")
    print()


def unrecorded(rows: list[tuple], records: list[tuple[str, str, str]]) -> list[str]:
    """Revoked users the ledger does not hold as revoked."""
    recorded = {user for _, user, outcome in records if outcome == "revoked"}
    return [
        f"{user} was revoked but the ledger has no revoked record for them"
        for _, _, _, users in rows
        for user in users
        if user.lower() not in recorded
    ]


def print_table(rows: list[tuple]) -> None:
    header = ("event", "status", "outcome", "revoked at the stand-in")
    lines = [header] + [(n, s, o, ", ".join(u) or "-") for n, s, o, u in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    print()
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[3])
        if i == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * len(header[3]))
    print()


def differences(rows: list[tuple]) -> list[str]:
    found = []
    seen = set()
    for name, status, outcome, users in rows:
        seen.add(name)
        want = EXPECTED.get(name)
        if want is None:
            found.append(f"{name}: no expected row; add it to EXPECTED in scripts/demo.py")
        elif (status, outcome, users) != want:
            found.append(f"{name}: got {(status, outcome, users)}, expected {want}")
    found += [f"{name}: expected but not in events/" for name in sorted(EXPECTED.keys() - seen)]
    return found


def leaked_secrets(log: Path) -> list[str]:
    """Which of the demo secret's values, or anything shaped like a JWT, the log contains."""
    secret = json.loads(DEMO_SECRET.read_text())
    values = {"client_secret": secret["client_secret"]}
    for source, hook in secret["webhooks"].items():
        for i, value in enumerate(hook["secrets"]):
            values[f"webhooks.{source}.secrets[{i}]"] = value
    text = log.read_text(errors="replace")
    found = [f"the value of {name}" for name, value in values.items() if value in text]
    if "eyJ" in text:
        found.append("something shaped like a JWT (eyJ...)")
    return found


def serve() -> int:
    """The two local services on the ports events/env.json names, until Ctrl-C; with a Docker
    engine, also on its bridge's gateway (host.docker.internal from a container, the ports
    events/env.docker.json names), and on no other interface."""
    with Services(LOGS) as services:
        forwarders = []
        try:
            moto_url = services.start_moto(port=5000)
            queue_url = seed_moto(moto_url)
            standin_url = start_standin(services, port=4010)
            gateway = docker_bridge_gateway()
            if gateway is not None:
                forwarders = [Forwarder(gateway, 5000), Forwarder(gateway, 4010)]
        except (ServiceError, OSError) as e:
            fail(f"demo: {e}\nlogs: {LOGS}")
        print(f"moto_server {moto_url}: secret {SECRET_ID}, queue {queue_url}, table {LEDGER_TABLE}")
        print(f"Entra + Graph stand-in {standin_url}; Ctrl-C stops both", flush=True)
        if forwarders:
            print(f"both also on {gateway}, Docker's bridge gateway: from a container, "
                  "host.docker.internal (events/env.docker.json)", flush=True)
        try:
            while all(child.poll() is None for _, child in services.children):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            for forwarder in forwarders:
                forwarder.close()
    return 0


def main() -> int:
    if "--serve" in sys.argv[1:]:
        build()
        return serve()
    check = "--check" in sys.argv[1:]
    if not CARGO_LAMBDA.exists():
        fail(f"demo: {CARGO_LAMBDA} is missing; run `make venv` first")
    build()
    with Services(LOGS) as services:
        try:
            moto_url = services.start_moto()
            queue_url = seed_moto(moto_url)
            standin_url = start_standin(services)
            print(f"demo: moto_server {moto_url}, Entra + Graph stand-in {standin_url}", flush=True)
            events = signed_copies()
            function_env = {
                **moto_env(moto_url),
                "CREDENTIALS_SECRET_ID": SECRET_ID,
                "RETRY_QUEUE_URL": queue_url,
                "LEDGER_TABLE": LEDGER_TABLE,
                "USER_DOMAIN": "contoso.com",
                "JAMF_LOST_GROUPS": "42",
                "DISABLE_LOST_DEVICES": "true",
                "ENTRA_AUTHORITY_URL": standin_url,
                "GRAPH_URL": standin_url,
            }
            port = start_watch(services, clean_env(function_env))
            print(f"demo: cargo lambda watch on 127.0.0.1:{port}; invoking {len(events)} events", flush=True)
            wait_until_invocable(port, services, EVENTS / "health.json")
            rows = run_events(standin_url, port, events)
            records = ledger_records(moto_url)
        except (ServiceError, subprocess.SubprocessError) as e:
            fail(f"demo: {e}\nlogs: {LOGS}")
        except KeyboardInterrupt:
            fail("demo: interrupted; everything it started is stopped")
    print_table(rows)
    print_ledger(records)
    print(f"logs (the function's audit lines are in cargo-lambda-watch.log): {LOGS}")
    if check:
        problems = differences(rows) + unrecorded(rows, records)
        problems += [
            f"the function's log contains {leak}"
            for leak in leaked_secrets(services.log_path("cargo-lambda-watch"))
        ]
        if problems:
            print("demo: check failed:", *problems, sep="\n  ")
            return 1
        print(
            f"demo: all {len(rows)} events gave the expected status, outcome and revocations;"
            " the ledger holds every revocation; the function's log holds no secret value"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
