"""SMART App Launch 2.x, the app's side: the EHR's discovery document, the authorization request
(PKCE with S256, a state), the code exchanged for a token, and the launch context read from it.

Authlib's OAuth 2 client does the protocol; this module says what SMART asks on top of it and
checks what comes back. It takes the settings as arguments (no request, no app): the web layer
(checker.ehr.views) passes them in, and imports it only when a launch happens.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..config import secure_address

TIMEOUT = 10  # seconds for each call to the EHR
LARGEST_DOCUMENT = 256 * 1024  # a discovery document or key set larger than this is refused
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class LaunchError(Exception):
    """A launch that cannot go on. ``reason`` is what the person is told (one of REASONS);
    ``detail`` is for the log, and never holds a token."""

    REASONS = ("unknown-ehr", "unreachable", "refused", "expired", "no-patient")

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Endpoints:
    """What the EHR's ``.well-known/smart-configuration`` says this app needs."""

    authorization: str
    token: str
    issuer: str | None = None  # the OpenID issuer, for the id_token
    jwks_uri: str | None = None


@dataclass(frozen=True)
class Request:
    """An authorization request: where to send the browser, and what to keep until it comes back."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class Granted:
    """What the token response gave: the tokens (kept on the server) and the launch context."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str
    patient: str
    encounter: str | None
    fhir_user: str | None


def _get_json(url: str, what: str) -> dict[str, Any]:
    """A JSON object from the EHR, read no further than LARGEST_DOCUMENT."""
    try:
        with requests.get(
            url, headers={"Accept": "application/json"}, timeout=TIMEOUT, allow_redirects=False, stream=True
        ) as response:
            body = response.raw.read(LARGEST_DOCUMENT + 1, decode_content=True)
            status = response.status_code
    except (requests.RequestException, OSError) as exc:
        raise LaunchError("unreachable", f"{what} at {url}: {type(exc).__name__}") from None
    if status != 200 or len(body) > LARGEST_DOCUMENT:
        raise LaunchError("unreachable", f"{what} at {url}: HTTP {status}, {len(body)} bytes or more")
    try:
        data = json.loads(body)
    except ValueError:
        raise LaunchError("unreachable", f"{what} at {url}: not JSON") from None
    if not isinstance(data, dict):
        raise LaunchError("unreachable", f"{what} at {url}: not a JSON object")
    return data


def discover(iss: str) -> Endpoints:
    """The EHR's endpoints, from its discovery document; LaunchError when it has none we can use."""
    data = _get_json(f"{iss}/.well-known/smart-configuration", "the SMART configuration")
    found = {key: data.get(key) for key in ("authorization_endpoint", "token_endpoint")}
    for key, value in found.items():
        if not isinstance(value, str) or not secure_address(value):
            raise LaunchError("unreachable", f"the SMART configuration of {iss} has no usable {key}")
    methods = data.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise LaunchError("unreachable", f"{iss} does not support PKCE with S256, which SMART 2 requires")
    issuer, jwks = data.get("issuer"), data.get("jwks_uri")
    return Endpoints(
        authorization=str(found["authorization_endpoint"]),
        token=str(found["token_endpoint"]),
        issuer=issuer if isinstance(issuer, str) else None,
        jwks_uri=jwks if isinstance(jwks, str) and secure_address(jwks) else None,
    )


def authorization_request(
    endpoints: Endpoints, client_id: str, redirect_uri: str, scope: str, iss: str, launch: str | None
) -> Request:
    """The browser's way to the EHR's authorization endpoint, with a fresh state and PKCE verifier;
    ``launch`` is the EHR's launch id (an EHR launch) or None (standalone)."""
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64)
    client = OAuth2Session(client_id, scope=scope, redirect_uri=redirect_uri, code_challenge_method="S256")
    extra = {"aud": iss, **({"launch": launch} if launch else {})}
    url, _ = client.create_authorization_url(endpoints.authorization, state=state, code_verifier=verifier, **extra)
    return Request(url, state, verifier)


def exchange(
    endpoints: Endpoints,
    client_id: str,
    client_secret: str | None,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    now: datetime,
) -> Granted:
    """The authorization code exchanged for a token, and the launch context checked."""
    method = "client_secret_basic" if client_secret else "none"
    client = OAuth2Session(client_id, client_secret, redirect_uri=redirect_uri, token_endpoint_auth_method=method)
    try:
        token = client.fetch_token(endpoints.token, code=code, code_verifier=code_verifier, timeout=TIMEOUT)
    except OAuthError as exc:
        raise LaunchError("refused", f"the token endpoint said {exc.error}") from None
    except (requests.RequestException, ValueError) as exc:
        raise LaunchError("unreachable", f"the token endpoint: {type(exc).__name__}") from None
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise LaunchError("refused", "the token response has no access_token")
    patient, encounter = token.get("patient"), token.get("encounter")
    if not isinstance(patient, str) or not FHIR_ID.fullmatch(patient):
        raise LaunchError("no-patient", "the token response names no patient (a FHIR id)")
    if encounter is not None and (not isinstance(encounter, str) or not FHIR_ID.fullmatch(encounter)):
        raise LaunchError("refused", "the token response's encounter is not a FHIR id")
    expires_in = token.get("expires_in")
    refresh = token.get("refresh_token")
    return Granted(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_at=now + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int) else None,
        scope=str(token.get("scope", "")),
        patient=patient,
        encounter=encounter,
        fhir_user=_fhir_user(token.get("id_token"), endpoints, client_id),
    )


def _fhir_user(id_token: Any, endpoints: Endpoints, client_id: str) -> str | None:
    """Who launched (the id_token's ``fhirUser``), only from a token whose signature, issuer,
    audience and expiry check out against the EHR's published keys; None otherwise."""
    if not isinstance(id_token, str) or endpoints.jwks_uri is None or endpoints.issuer is None:
        return None
    keys = KeySet.import_key_set(_get_json(endpoints.jwks_uri, "the EHR's keys"))  # type: ignore[arg-type]
    try:
        claims = jwt.decode(id_token, keys).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": endpoints.issuer}, aud={"essential": True, "value": client_id}
        ).validate(claims)
    except (JoseError, ValueError) as exc:
        raise LaunchError("refused", f"the id_token does not check out: {type(exc).__name__}") from None
    user = claims.get("fhirUser")
    return user if isinstance(user, str) and len(user) <= 500 else None
