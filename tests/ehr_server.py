"""A test EHR on loopback: a SMART authorization server built with Authlib's server side
(authorization code with PKCE S256, the launch context in the token response, a signed
id_token), its discovery document and keys, and a FHIR server that takes transactions the way
a strict one does: the bearer token checked (known, not expired, with the scope to create each
resource, for its own patient only), every resource validated with fhir.resources, all or
nothing, conditional creates honoured. Started by the tests, stopped after."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from fhir.resources.R4B.bundle import Bundle
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import ValidationError
from werkzeug.serving import make_server

CLIENT_ID = "synkinesis-check"


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    redirect_uris: list[str]
    secret: str | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.secret is not None and secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == ("client_secret_basic" if self.secret else "none")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    context: dict[str, str]
    made_at: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Ehr:
    """What the test sets and reads: launches the EHR opened, codes and tokens it issued."""

    url: str = ""
    redirect_uris: list[str] = field(default_factory=list)  # where the app may be sent back (registered)
    launches: dict[str, dict[str, str]] = field(default_factory=dict)  # launch id -> patient, encounter
    standalone_patient: str = "pat-standalone"
    deny: bool = False  # the person refuses access at the EHR
    app_launch_url: str = ""  # the app's launch URL, as registered with the EHR
    discovery_padding: int = 0  # bytes of padding in the discovery document (a huge one)
    code_seconds: float = 60.0  # how long a code can be exchanged
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # access token -> what it grants
    token_seconds: float = 3600.0  # how long an access token works
    held: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Type/id" -> the resource, as filed
    unavailable: int = 0  # answer this many transactions with 503, taking nothing
    lose_answers: int = 0  # take this many transactions, then answer 502 as if the answer was lost
    transactions: int = 0
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "ehr-1"}))

    @property
    def fhir(self) -> str:
        return f"{self.url}/fhir"

    def launch(self, patient: str = "pat-1", encounter: str | None = "enc-1") -> str:
        """Open the app from the EHR: a launch id for this patient (and encounter)."""
        launch = secrets.token_urlsafe(8)
        self.launches[launch] = {"patient": patient, **({"encounter": encounter} if encounter else {})}
        return launch


def ehr_app(ehr: Ehr, redirect_uri: str, client_secret: str | None = None) -> Flask:
    app = Flask("test-ehr")
    app.config["SECRET_KEY"] = secrets.token_hex(16)
    ehr.redirect_uris.append(redirect_uri)
    clients = {CLIENT_ID: Client(CLIENT_ID, ehr.redirect_uris, client_secret)}
    codes: dict[str, Code] = {}

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            launch = data.get("launch")
            context = ehr.launches.get(launch, {}) if launch else {"patient": ehr.standalone_patient}
            codes[code] = Code(
                code,
                req.client.client_id,
                req.payload.redirect_uri,
                req.scope,
                data.get("code_challenge"),
                data.get("code_challenge_method"),
                context,
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = codes.get(code)
            if found and found.client_id == client.client_id and time.time() - found.made_at < ehr.code_seconds:
                return found
            return None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> dict[str, str]:
            return {"fhirUser": f"{ehr.fhir}/Practitioner/prac-1", **authorization_code.context}

    def save_token(token: dict[str, Any], req: Any) -> None:
        context = dict(req.authorization_code.context)
        token.update(context)  # SMART's launch context, beside the token
        if "openid" in req.authorization_code.scope.split():
            claims = {
                "iss": ehr.url,
                "aud": CLIENT_ID,
                "sub": "prac-1",
                "fhirUser": req.user["fhirUser"],
                "iat": int(time.time()),
                "exp": int(time.time()) + 300,
            }
            token["id_token"] = jwt.encode({"alg": "RS256", "kid": "ehr-1"}, claims, ehr.key)
        ehr.tokens[token["access_token"]] = {**context, "scope": token.get("scope", ""), "at": time.time()}

    server = AuthorizationServer(app, query_client=clients.get, save_token=save_token)
    server.register_grant(CodeGrant, [CodeChallenge(required=True)])

    @app.post("/fhir")
    def fhir_transaction() -> Any:
        ehr.transactions += 1
        if ehr.unavailable:
            ehr.unavailable -= 1
            return _outcome("transient", "down for maintenance", 503)
        granted = ehr.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if granted is None or time.time() - granted["at"] > ehr.token_seconds:
            return _outcome("login", "unknown or expired access token", 401)
        body = request.get_json(silent=True)
        try:
            Bundle.model_validate(body)
        except ValidationError as exc:
            return _outcome("invalid", str(exc.errors()[0]["loc"]), 400)
        if body.get("type") != "transaction":
            return _outcome("invalid", "expected a transaction", 400)
        made, answers = {}, []
        places = {e["fullUrl"]: e for e in body["entry"]}
        for entry in body["entry"]:  # everything is checked before anything is kept
            resource, kind = entry["resource"], entry["resource"]["resourceType"]
            if f"patient/{kind}.c" not in granted["scope"].split():
                return _outcome("forbidden", f"the token may not create {kind}", 403)
            if resource.get("subject", {}).get("reference") != f"Patient/{granted['patient']}":
                return _outcome("forbidden", "a resource for another patient", 403)
            system, _, value = entry["request"]["ifNoneExist"].removeprefix("identifier=").partition("|")
            found = next(
                (
                    place
                    for place, kept in ehr.held.items()
                    if place.startswith(f"{kind}/")
                    and any(i["system"] == system and i["value"] == value for i in _identifiers(kept))
                ),
                None,
            )
            made[entry["fullUrl"]] = found or f"{kind}/{secrets.token_hex(6)}"
            answers.append(
                {"location": f"{made[entry['fullUrl']]}/_history/1", "status": "200 OK" if found else "201 Created"}
            )
        for entry, answer in zip(body["entry"], answers, strict=True):
            if answer["status"].startswith("201"):
                text = json.dumps(entry["resource"])
                for full_url, place in made.items():
                    text = text.replace(json.dumps(full_url), json.dumps(place))
                ehr.held[made[entry["fullUrl"]]] = json.loads(text)
        assert set(places) == set(made)
        if ehr.lose_answers:
            ehr.lose_answers -= 1
            return _outcome("transient", "the answer was lost on the way", 502)
        return jsonify(resourceType="Bundle", type="transaction-response", entry=[{"response": a} for a in answers])

    @app.get("/fhir/<kind>")
    def fhir_search(kind: str) -> Any:
        """What the EHR holds of one type, as a searchset (to see what was filed)."""
        found = [{"resource": r} for place, r in ehr.held.items() if place.startswith(f"{kind}/")]
        return jsonify(resourceType="Bundle", type="searchset", total=len(found), entry=found)

    @app.get("/fhir/.well-known/smart-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=ehr.url,
            jwks_uri=f"{ehr.url}/jwks",
            authorization_endpoint=f"{ehr.url}/authorize",
            token_endpoint=f"{ehr.url}/token",
            grant_types_supported=["authorization_code"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=["openid", "fhirUser", "launch", "launch/patient", "patient/*.rs"],
            capabilities=[
                "launch-ehr",
                "launch-standalone",
                "client-public",
                "context-ehr-patient",
                "sso-openid-connect",
            ],
            **({"padding": "x" * ehr.discovery_padding} if ehr.discovery_padding else {}),
        )

    @app.get("/chart/<patient>")
    def chart(patient: str) -> Any:
        """The EHR's page for a patient, with the app to launch: a link to its launch URL."""
        launch = ehr.launch(patient, "enc-visit")
        target = f"{ehr.app_launch_url}?{urlencode({'iss': ehr.fhir, 'launch': launch})}"
        link = f'<a href="{target}">Synkinesis self-check</a>'
        return (
            f'<!doctype html><html lang="en"><title>Chart</title><main><h1>Chart of {patient}</h1>{link}</main></html>'
        )

    @app.get("/jwks")
    def keys() -> Any:
        return jsonify(keys=[ehr.key.as_dict(private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        ehr.authorize_requests.append(dict(request.args))
        if ehr.deny:
            query = urlencode({"error": "access_denied", "state": request.args.get("state", "")})
            return redirect(f"{request.args.get('redirect_uri')}?{query}")
        user = {"fhirUser": f"{ehr.fhir}/Practitioner/prac-1"}  # signed in at the EHR, and consenting
        grant = server.get_consent_grant(end_user=user)
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    return app


def _identifiers(resource: dict[str, Any]) -> list[dict[str, str]]:
    found = resource.get("identifier") or []
    return found if isinstance(found, list) else [found]


def _outcome(code: str, diagnostics: str, status: int) -> Any:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    return jsonify(body), status


@contextmanager
def running_ehr(redirect_uri: str, client_secret: str | None = None) -> Iterator[Ehr]:
    """A test EHR on a free loopback port for the length of the block."""
    ehr = Ehr()
    server = make_server("127.0.0.1", 0, ehr_app(ehr, redirect_uri, client_secret), threaded=True)
    ehr.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ehr
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    """Run the test EHR on its own, to try the app's launch by hand (see docs/integrators/ehr.md)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.ehr_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--app", default="http://127.0.0.1:5000", help="the app's address (CHECKER_BASE_URL)")
    options = parser.parse_args()
    ehr = Ehr(url=f"http://127.0.0.1:{options.port}", app_launch_url=f"{options.app}/ehr/launch")
    server = make_server("127.0.0.1", options.port, ehr_app(ehr, f"{options.app}/ehr/callback"), threaded=True)
    print(f"test EHR at {ehr.fhir} (client id {CLIENT_ID}); a chart: {ehr.url}/chart/pat-1")  # noqa: T201
    server.serve_forever()


if __name__ == "__main__":
    main()
