#!/usr/bin/env python3
"""Seed corpus for the fuzz targets, from the sample events in events/.

Usage: scripts/fuzz_corpus.py DIR

- payload: each event's body, as the function receives it;
- authentication: one input per body and source (a source byte, the body, 0xff, and no
  mutation yet: a correctly signed request the fuzzer then mutates);
- user_path: every user the events name (UPNs and object ids).
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = 4  # tests/support/invariants.rs: standard, relay, jamf, jamf-basic


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    for target in ("payload", "authentication", "user_path"):
        (out / target).mkdir(parents=True, exist_ok=True)
    users = set()
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        body = event.get("body") if isinstance(event, dict) else None
        if not isinstance(body, str):
            continue
        data = body.encode()
        (out / "payload" / path.stem).write_bytes(data)
        for source in range(SOURCES):
            (out / "authentication" / f"{path.stem}-{source}").write_bytes(
                bytes([source]) + data.replace(b"\xff", b"") + b"\xff"
            )
        users.update(re.findall(r'"(?:upn|username|emailAddress|id)"\s*:\s*"([^"]+)"', body))
    for i, user in enumerate(sorted(users)):
        (out / "user_path" / f"user-{i}").write_text(user)
    print(f"fuzz: seed corpus in {out} ({len(users)} users)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
