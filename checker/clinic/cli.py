"""``flask --app checker staff create EMAIL``: make a staff account."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from .auth import MIN_PASSWORD_LENGTH, create_staff


@click.group("staff")
def staff_group() -> None:
    """Manage staff accounts."""


@staff_group.command("create")
@click.argument("email")
@click.password_option(help=f"At least {MIN_PASSWORD_LENGTH} characters; asked for when not given.")
@with_appcontext
def create_command(email: str, password: str) -> None:
    """Create a staff account that can sign in to the inbox."""
    try:
        user = create_staff(email, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created staff account {user.email}.")
