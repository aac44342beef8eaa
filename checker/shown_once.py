"""Secrets shown once, on their own page: a patient's invitation link, a staff password link,
a staff member's new recovery codes.

What is shown is derived from a random seed kept on its record and the app's secret key;
only hashes of it are what open anything. The page takes the seed in one
``UPDATE ... WHERE seed = ...``: two tabs, two requests or a second visit can never show it
twice, and one record's page can never show another's. No usable secret is ever in the
session cookie, and the database alone cannot make one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app
from sqlalchemy import update

from .db import db
from .models import Invitation, PasswordLink, StaffUser, token_hash

Seeded = Invitation | PasswordLink | StaffUser


def new_seed() -> str:
    return secrets.token_hex(32)


def derived(seed: str, purpose: str) -> bytes:
    """256 bits for ``purpose`` from a seed, under the current secret key."""
    key = str(current_app.secret_key).encode()
    return hmac.new(key, f"{purpose}:{seed}".encode(), hashlib.sha256).digest()


def token_from(seed: str) -> str:
    """The link token a seed gives (256 bits, URL-safe)."""
    return base64.urlsafe_b64encode(derived(seed, "shown-once-link")).decode().rstrip("=")


def take_seed(record: Seeded, column: str = "link_seed") -> str | None:
    """The record's seed in ``column``, the first time it is asked for; then None for ever."""
    seed = getattr(record, column)
    if seed is None:
        return None
    model = type(record)
    taken = db.session.execute(
        update(model).where(model.id == record.id, getattr(model, column) == seed).values({column: None})
    )
    db.session.commit()
    return seed if taken.rowcount == 1 else None  # type: ignore[attr-defined]  # else another request took it


def take_token(record: Invitation | PasswordLink) -> str | None:
    """The record's link token, the first time it is asked for; then None for ever.

    None also when the secret key changed since the link was made (the token it gives would
    not open the link): the page then says to make a new one.
    """
    seed = take_seed(record)
    if seed is None:
        return None
    token = token_from(seed)
    return token if hmac.compare_digest(token_hash(token), record.token_hash) else None
