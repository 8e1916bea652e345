#!/usr/bin/env python3
"""Check the AWS SAM template: lint it, hold it against the code, and build both functions.

Usage: scripts/check_template.py [--no-build]

Run by `make template` (part of `make test`). Steps:
  1. cfn-lint template.yaml, and sam validate --lint (cfn-lint on SAM's own translation);
  2. every variable the code reads is declared in the template, and events/env.json only
     sets declared variables (sam local ignores any other); every role is least privilege
     (no wildcard action or resource); the Intune poller runs on its schedule, one at a time,
     only when EnableIntune is true;
  3. sam build: `cargo lambda build --release` of each binary, cross-built with zig, for
     arm64. When the aarch64 Rust target is missing and cannot be added, builds x86_64
     instead and says so loudly: that is a gap of the machine, not of the project.

Nothing here talks to AWS: the credentials are dummies, and AWS_ENDPOINT_URL points at a
closed loopback port, so a stray API call fails here instead of reaching AWS. (`sam validate`
without --lint would call IAM, and is never run.) SAM's telemetry and update check are off.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
TEMPLATE = ROOT / "template.yaml"
# The variables for sam local: on the host's network, and from a container.
ENV_FILES = (ROOT / "events" / "env.json", ROOT / "events" / "env.docker.json")
BUILD_DIR = ROOT / ".aws-sam" / "build"
SAM_HOME = ROOT / ".aws-sam" / "cli-home"
ARM_TARGET = "aarch64-unknown-linux-gnu"
# ELF e_machine values.
ELF_MACHINES = {0xB7: "arm64", 0x3E: "x86_64"}
FUNCTIONS = ("WebhookFunction", "RetryFunction", "IntuneFunction")
# Read by the code but not configuration: set by Lambda or the AWS SDK's own.
NOT_CONFIG = re.compile(r"^(AWS_|RUST_LOG$|CARGO)")


def step(title: str) -> None:
    print(f"\n== template: {title}", flush=True)


def fail(message: str) -> None:
    sys.exit(f"check_template: {message}")


def offline_env() -> dict:
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "SAM_CLI_TELEMETRY": "0",
            # SAM keeps its settings here instead of ~/.aws-sam (see sam_home()).
            "__SAM_CLI_APP_DIR": str(SAM_HOME),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env


def sam_home() -> None:
    """A private SAM settings dir whose last update check lies in the future: no check."""
    SAM_HOME.mkdir(parents=True, exist_ok=True)
    metadata = {"telemetryEnabled": False, "lastVersionCheck": 32503680000.0}
    (SAM_HOME / "metadata.json").write_text(json.dumps(metadata))


def run(cmd: list, env: dict) -> None:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code != 0:
        fail(f"{Path(str(cmd[0])).name} exited with {code}")


def load_template() -> dict:
    # cfn-lint's loader understands the short intrinsic tags (!Ref, !If, ...). This script
    # runs on .venv/bin/python, where cfn-lint is installed.
    from cfnlint.decode import decode_str

    template, errors = decode_str(TEMPLATE.read_text())
    if errors:
        fail(f"template.yaml does not parse: {errors}")
    return template


def declared_variables(template: dict) -> dict:
    common = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    common = set(common.get("Variables", {}))
    declared = {}
    for name in FUNCTIONS:
        props = template["Resources"][name]["Properties"]
        own = props.get("Environment", {}).get("Variables", {})
        declared[name] = common | set(own)
    return declared


def variables_read_by_code() -> set:
    pattern = re.compile(r'(?:vars\.\w+|env::var(?:_os)?)\(\s*"([A-Z][A-Z0-9_]+)"')
    names = set()
    for path in (ROOT / "src").rglob("*.rs"):
        names.update(pattern.findall(path.read_text()))
    return {n for n in names if not NOT_CONFIG.match(n)}


def check_consistency(template: dict) -> None:
    declared = declared_variables(template)
    everywhere = set.union(*declared.values())
    missing = sorted(variables_read_by_code() - everywhere)
    if missing:
        fail(f"src/ reads {', '.join(missing)}, which template.yaml never sets")
    for path in ENV_FILES:
        name = path.relative_to(ROOT)
        for function, values in json.loads(path.read_text()).items():
            if function not in declared:
                fail(f"{name} names {function}, which template.yaml does not define")
            undeclared = sorted(set(values) - declared[function])
            if undeclared:
                fail(
                    f"{name} sets {', '.join(undeclared)} for {function}; sam local "
                    "ignores variables that template.yaml does not declare"
                )
    print("variables read by src/ are all set; events/env*.json set only declared ones")


def statements(role: dict):
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            # A statement under !If [condition, statement, AWS::NoValue].
            if isinstance(statement, dict) and "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            yield statement


def check_least_privilege(template: dict) -> None:
    roles = {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    for name, role in roles.items():
        if role["Properties"].get("ManagedPolicyArns"):
            fail(f"{name} attaches managed policies; every grant is written out")
        for statement in statements(role):
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            if any("*" in a for a in actions):
                fail(f"{name} {statement.get('Sid')}: a wildcard action")
            resource = statement["Resource"]
            if resource == "*" or (isinstance(resource, str) and resource.endswith(":*")):
                fail(f"{name} {statement.get('Sid')}: a wildcard resource")
            if any(a.startswith("dynamodb:") for a in actions) and resource != {
                "Fn::GetAtt": ["LedgerTable", "Arn"]
            }:
                fail(f"{name} {statement.get('Sid')}: DynamoDB beyond the ledger table")
            if any(a.startswith("sns:") for a in actions) and (
                actions != ["sns:Publish"] or resource != {"Ref": "NotifyTopicArn"}
            ):
                fail(f"{name} {statement.get('Sid')}: SNS beyond Publish to NotifyTopicArn")
    print(f"roles are least privilege: {', '.join(sorted(roles))}")


def check_intune(template: dict) -> None:
    resources = template["Resources"]
    function = resources["IntuneFunction"]
    if function.get("Condition") != "IsIntuneEnabled":
        fail("IntuneFunction must exist only when EnableIntune is true")
    for name in ("IntuneRole", "IntuneLogGroup", "IntuneErrorsAlarm"):
        if resources[name].get("Condition") != "IsIntuneEnabled":
            fail(f"{name} must exist only when EnableIntune is true")
    props = function["Properties"]
    if props.get("ReservedConcurrentExecutions") != 1:
        fail("IntuneFunction must run one at a time (ReservedConcurrentExecutions: 1)")
    schedules = [e for e in props.get("Events", {}).values() if e["Type"] == "Schedule"]
    if len(schedules) != 1 or schedules[0]["Properties"]["Schedule"] != {"Ref": "IntunePollSchedule"}:
        fail("IntuneFunction must have one Schedule event on the IntunePollSchedule parameter")
    if template["Parameters"]["IntunePollSchedule"]["Default"] != "rate(1 minute)":
        fail("IntunePollSchedule's default must be rate(1 minute)")
    if template["Parameters"]["EnableIntune"]["Default"] != "false":
        fail("EnableIntune's default must be false")
    print("IntuneFunction: on its schedule, one at a time, only with EnableIntune=true")


def arm64_target_ready(env: dict) -> bool:
    rustup = shutil.which("rustup", path=env["PATH"])
    if rustup is None:
        return False
    installed = subprocess.run(
        [rustup, "target", "list", "--installed"], capture_output=True, text=True, env=env
    )
    if ARM_TARGET in installed.stdout.split():
        return True
    print(f"$ rustup target add {ARM_TARGET}", flush=True)
    try:
        added = subprocess.run([rustup, "target", "add", ARM_TARGET], env=env, timeout=300)
    except subprocess.TimeoutExpired:
        return False
    return added.returncode == 0


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return "not an ELF file"
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "unknown")


def build(env: dict) -> None:
    arch = "arm64"
    if not arm64_target_ready(env):
        arch = "x86_64"
        banner = "!" * 78
        print(
            f"\n{banner}\n"
            f"NOTICE: the Rust target {ARM_TARGET} is missing and could not be added\n"
            "(rustup absent, or its download site unreachable). Building for x86_64\n"
            "instead: this proves the template and the code build, but NOT the arm64\n"
            "binaries that a deployment uses. On a machine with rustup and access to\n"
            f"its downloads: rustup target add {ARM_TARGET}\n"
            f"{banner}\n",
            flush=True,
        )
    if BUILD_DIR.exists():
        shutil.rmtree(BUILD_DIR)
    started = time.monotonic()
    run(
        [
            VENV_BIN / "sam",
            "build",
            "--template-file",
            TEMPLATE,
            "--build-dir",
            BUILD_DIR,
            "--parameter-overrides",
            f"Architecture={arch}",
        ],
        env,
    )
    seconds = time.monotonic() - started
    for function in FUNCTIONS:
        binary = BUILD_DIR / function / "bootstrap"
        if not binary.is_file():
            fail(f"sam build made no {binary.relative_to(ROOT)}")
        machine = elf_machine(binary)
        if machine != arch:
            fail(f"{binary.relative_to(ROOT)} is {machine}, expected {arch}")
        size = binary.stat().st_size / 1e6
        print(f"{function}: {binary.relative_to(ROOT)} ({machine}, {size:.1f} MB)")
    print(f"sam build took {seconds:.0f} s")


def main() -> int:
    args = sys.argv[1:]
    if args not in ([], ["--no-build"]):
        sys.exit(__doc__)
    for tool in ("sam", "cfn-lint", "cargo-lambda"):
        if not (VENV_BIN / tool).exists():
            fail(f".venv/bin/{tool} is missing: run `make venv`")
    sam_home()
    env = offline_env()

    step("cfn-lint")
    run([VENV_BIN / "cfn-lint", TEMPLATE], env)
    step("sam validate --lint")
    run([VENV_BIN / "sam", "validate", "--lint", "--template-file", TEMPLATE], env)
    step("template against the code")
    template = load_template()
    check_consistency(template)
    check_least_privilege(template)
    check_intune(template)
    if args != ["--no-build"]:
        step("sam build")
        build(env)
    print("\ntemplate: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
