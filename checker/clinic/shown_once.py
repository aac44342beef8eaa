"""Links shown once, on their own record's page: a patient's invitation, a staff password link.

A new link's token is derived from a random seed kept on its record and the app's secret
key, and only the token's hash is what opens it. The record's page takes the seed in one
``UPDATE ... WHERE seed = ...``: two tabs, two requests or a second visit can never show it
twice, and one record's page can never show another's link. No usable token is ever in the
session cookie, and the database alone cannot make one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app
from sqlalchemy import update

from ..db import db
from ..models import Invitation, PasswordLink, token_hash

Seeded = type[Invitation] | type[PasswordLink]


def new_seed() -> str:
    return secrets.token_hex(32)


def token_from(seed: str) -> str:
    """The link token a seed gives under the current secret key (256 bits, URL-safe)."""
    key = str(current_app.secret_key).encode()
    digest = hmac.new(key, b"shown-once-link:" + seed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def take_token(record: Invitation | PasswordLink) -> str | None:
    """The record's link token, the first time it is asked for; then None for ever.

    None also when the secret key changed since the link was made (the token it gives would
    not open the link): the page then says to make a new one.
    """
    seed = record.link_seed
    if seed is None:
        return None
    model: Seeded = type(record)
    taken = db.session.execute(
        update(model).where(model.id == record.id, model.link_seed == seed).values(link_seed=None)
    )
    db.session.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None  # another request took it a moment ago
    token = token_from(seed)
    return token if hmac.compare_digest(token_hash(token), record.token_hash) else None
