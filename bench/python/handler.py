"""The benchmark's Python reference: the lost-device webhook as a team would otherwise write it.

It does the webhook's job for the `standard` source: verify the Standard Webhooks signature
over the raw body, read the Entra app's credentials from Secrets Manager with boto3 (at init,
cached with a TTL), get an app-only token and call Graph's invalidateAllRefreshTokens with
requests, retrying 429 and 5xx inside the inline deadline, and answer with the same JSON. It
runs under awslambdaric (`python -m awslambdaric handler.lambda_handler`), as in a container
image. Dev-only: it exists to be measured against the Rust function, never to be deployed.
"""

import base64
import hashlib
import hmac
import json
import os
import random
import time
import uuid
from urllib.parse import quote

import boto3
import requests
from botocore.config import Config

SECRET_ID = os.environ["CREDENTIALS_SECRET_ID"]
AUTHORITY_URL = os.environ.get("ENTRA_AUTHORITY_URL", "https://login.microsoftonline.com")
GRAPH_URL = os.environ.get("GRAPH_URL", "https://graph.microsoft.com")
SCOPE = "https://graph.microsoft.com/.default"
TOLERANCE_SECONDS = int(os.environ.get("SIGNATURE_TOLERANCE_SECONDS", "300"))
INLINE_DEADLINE_SECONDS = int(os.environ.get("INLINE_DEADLINE_MS", "1500")) / 1000
SECRET_TTL_SECONDS = int(os.environ.get("SECRET_TTL_SECONDS", "300"))
MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", "262144"))
LOST_TYPES = ("device.lost", "device.stolen")
RETRIED_STATUSES = (429, 500, 502, 503, 504)
STATUS_OF = {"revoked": 200, "user_not_found": 422, "denied": 500, "failed": 503}

# Built once per execution environment, like the Rust function's shared clients.
secrets_manager = boto3.client(
    "secretsmanager",
    config=Config(connect_timeout=0.5, read_timeout=0.8, retries={"max_attempts": 2}),
)
http = requests.Session()
http.headers["User-Agent"] = "lost-device-revoker-python-reference/0.1"

_secret = {"value": None, "expires": 0.0}
_token = {"value": None, "expires": 0.0}


def app_secret():
    """The secret's JSON, read again after SECRET_TTL_SECONDS."""
    now = time.monotonic()
    if _secret["value"] is None or now >= _secret["expires"]:
        text = secrets_manager.get_secret_value(SecretId=SECRET_ID)["SecretString"]
        _secret["value"] = json.loads(text)
        _secret["expires"] = now + SECRET_TTL_SECONDS
    return _secret["value"]


# Read at init, as the Rust function does, so a cold start spends none of the sender's time on it.
try:
    app_secret()
except Exception as error:  # noqa: BLE001 - retried on the first request
    print(json.dumps({"level": "WARN", "message": "could not read the secret at init",
                      "error": type(error).__name__}))


def verify_standard_webhook(headers, body, secrets):
    """Standard Webhooks: HMAC-SHA256 over `id.timestamp.body`, constant-time compare."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - sent_at) > TOLERANCE_SECONDS:
        return False
    signed = f"{message_id}.{timestamp}.".encode() + body
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
        for signature in signatures.split():
            version, _, value = signature.partition(",")
            if version == "v1" and hmac.compare_digest(value.encode(), expected):
                return True
    return False


def access_token(secret, deadline, fresh=False):
    """An app-only Graph token (client credentials), cached until 5 minutes before expiry."""
    now = time.monotonic()
    if fresh or _token["value"] is None or now >= _token["expires"]:
        response = http.post(
            f"{AUTHORITY_URL}/{secret['tenant_id']}/oauth2/v2.0/token",
            data={
                "client_id": secret["client_id"],
                "client_secret": secret["client_secret"],
                "scope": SCOPE,
                "grant_type": "client_credentials",
            },
            timeout=max(deadline - now, 0.01),
        )
        response.raise_for_status()
        body = response.json()
        _token["value"] = body["access_token"]
        _token["expires"] = now + int(body["expires_in"]) - 300
    return _token["value"]


def backoff(attempt):
    base = min(0.1 * 2**attempt, 2.0)
    return base / 2 + random.uniform(0, base / 2)


def revoke(secret, user, deadline):
    """Signs `user` out everywhere; `failed` when the deadline ends the retries."""
    url = f"{GRAPH_URL}/beta/users/{quote(user, safe='@')}/invalidateAllRefreshTokens"
    fresh = False
    attempt = 0
    while True:
        wait = None
        try:
            token = access_token(secret, deadline, fresh)
            response = http.post(
                url,
                headers={
                    "Authorization": f"Bearer {token}",
                    "client-request-id": str(uuid.uuid4()),
                },
                timeout=max(deadline - time.monotonic(), 0.01),
            )
        except requests.RequestException:
            response = None
        if response is not None:
            if response.ok:
                return "revoked"
            if response.status_code == 401 and not fresh:
                fresh = True
                continue
            if response.status_code == 403:
                return "denied"
            if response.status_code == 404:
                return "user_not_found"
            if response.status_code not in RETRIED_STATUSES:
                return "denied"
            retry_after = response.headers.get("Retry-After", "")
            wait = int(retry_after) if retry_after.isdigit() else None
        wait = backoff(attempt) if wait is None else wait
        attempt += 1
        if time.monotonic() + wait >= deadline:
            return "failed"
        time.sleep(wait)


def respond(status, outcome, event_id=None, results=()):
    body = {"outcome": outcome, "event_id": event_id, "results": list(results)}
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def lambda_handler(event, context):
    deadline = time.monotonic() + INLINE_DEADLINE_SECONDS
    path = event.get("rawPath") or event.get("path") or "/"
    source = path.rstrip("/").rsplit("/", 1)[-1]
    method = event.get("requestContext", {}).get("http", {}).get("method") or event.get(
        "httpMethod", ""
    )
    if source == "health" and method == "GET":
        return respond(200, "healthy")
    if method != "POST":
        return respond(405, "method_not_allowed")
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    if len(body) > MAX_BODY_BYTES:
        return respond(413, "payload_too_large")

    secret = app_secret()
    webhook = secret.get("webhooks", {}).get(source)
    if not webhook or webhook.get("scheme") != "standard-webhooks":
        return respond(404, "unknown_source")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not verify_standard_webhook(headers, body, webhook.get("secrets", [])):
        return respond(401, "unauthorized")

    try:
        payload = json.loads(body)
    except ValueError:
        return respond(400, "bad_payload")
    event_id = payload.get("id")
    if payload.get("type") not in LOST_TYPES:
        return respond(200, "ignored", event_id)
    user_fields = (payload.get("data") or {}).get("user") or {}
    user = user_fields.get("id") or user_fields.get("upn") or user_fields.get("email")
    if not user:
        return respond(422, "no_user", event_id)

    outcome = revoke(secret, user, deadline)
    print(json.dumps({"audit": "revocation", "source": source, "event_id": event_id,
                      "user": user, "outcome": outcome,
                      "request_id": getattr(context, "aws_request_id", None)}))
    return respond(STATUS_OF[outcome], outcome, event_id, [{"user": user, "outcome": outcome}])
