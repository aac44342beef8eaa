"""``flask --app checker staff ...``: manage staff accounts from the command line.

Passwords are only ever asked for at a prompt (typed twice, not shown), never taken as an
argument, which would land in the shell's history and the process list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ...db import DatabaseGroup, db, utcnow
from ...models import StaffSession, StaffUser
from . import staff as accounts


@click.group("staff", cls=DatabaseGroup)
def staff_group() -> None:
    """Manage staff accounts."""


def _prompted_password() -> str:
    return str(
        click.prompt(
            f"Password ({accounts.MIN_PASSWORD_LENGTH} to {accounts.MAX_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    )


def _account(action: Callable[..., Any]) -> Callable[..., None]:
    """Run ``action`` on the account named by EMAIL; its ValueError becomes a one-line error."""

    def command(email: str, **options: Any) -> None:
        try:
            user = accounts.find_staff(email)
            message = action(user, **options)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(message)

    command.__name__ = action.__name__
    command.__doc__ = action.__doc__
    return command


@staff_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(accounts.ROLES), help="staff or admin (the first account: admin).")
@with_appcontext
def create_command(email: str, role: str | None) -> None:
    """Create a staff account; the password is asked for."""
    try:
        email = accounts.available_email(email)  # and the database answers: before anything is typed
        user = accounts.create_staff(email, _prompted_password(), role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} account {user.email}.")


@staff_group.command("list")
@with_appcontext
def list_command() -> None:
    """List the accounts: role, state, last sign-in, sessions open now."""
    open_sessions = dict(
        db.session.execute(select(StaffSession.staff_id, func.count()).group_by(StaffSession.staff_id)).all()
    )
    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.email)):
        last = f"{user.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if user.last_sign_in_at else "never"
        state = "active" if user.active else "disabled"
        sessions = open_sessions.get(user.id, 0)
        click.echo(f"{user.email}\t{user.role}\t{state}\tlast sign-in {last}\t{sessions} session(s)")


@staff_group.command("disable")
@click.argument("email")
@with_appcontext
@_account
def disable_command(user: StaffUser) -> str:
    """Stop an account from signing in; its sessions end at once."""
    accounts.set_active(user, False)
    return f"Disabled {user.email}; its sessions have ended."


@staff_group.command("enable")
@click.argument("email")
@with_appcontext
@_account
def enable_command(user: StaffUser) -> str:
    """Let a disabled account sign in again."""
    accounts.set_active(user, True)
    return f"Enabled {user.email}."


@staff_group.command("unlock")
@click.argument("email")
@with_appcontext
@_account
def unlock_command(user: StaffUser) -> str:
    """Let an account that is waiting after refused sign-ins try again now."""
    forgotten = accounts.unlock(user)
    return f"Unlocked {user.email} ({forgotten} refused sign-in(s) forgotten)."


@staff_group.command("reset-password")
@click.argument("email")
@with_appcontext
@_account
def reset_password_command(user: StaffUser) -> str:
    """Set a new password (asked for); every session of the account ends."""
    accounts.set_password(user, _prompted_password())
    return f"New password set for {user.email}; its sessions have ended."


@staff_group.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(accounts.ROLES))
@with_appcontext
@_account
def set_role_command(user: StaffUser, role: str) -> str:
    """Make an account staff or admin."""
    accounts.set_role(user, role)
    return f"{user.email} is now {role}."


@staff_group.command("reset-two-factor")
@click.argument("email")
@with_appcontext
@_account
def reset_two_factor_command(user: StaffUser) -> str:
    """Forget a lost authenticator app; the account sets up a new one at its next sign-in."""
    accounts.reset_two_factor(user)
    return f"Two-step sign-in reset for {user.email}; it is set up again at the next sign-in."


@staff_group.command("sign-out")
@click.argument("email")
@with_appcontext
@_account
def sign_out_command(user: StaffUser) -> str:
    """End every session of an account, everywhere."""
    ended = accounts.sign_out_everywhere(user)
    return f"Ended {ended} session(s) of {user.email} at {utcnow():%H:%M} UTC."
