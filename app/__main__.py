"""`python -m app serve | migrate | keys create --name NAME`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.settings import Settings, load_settings


def serve(settings: Settings) -> None:
    import uvicorn

    from app.main import create_app

    app = create_app(settings)

    class DrainingServer(uvicorn.Server):
        """Readiness fails the moment a shutdown signal arrives, before uvicorn stops
        accepting, so the endpoints controller takes the pod out of rotation first."""

        def handle_exit(self, sig: int, frame: object) -> None:
            services = getattr(app.state, "services", None)
            if services is not None:
                services.draining = True
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        server_header=False,
        date_header=True,
        log_config=None,
        proxy_headers=False,  # the client IP is taken from X-Forwarded-For of trusted proxies only
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        timeout_keep_alive=settings.keep_alive_seconds,
    )
    DrainingServer(config).run()


def migrate(settings: Settings) -> None:
    from alembic import command

    from app.db.engine import alembic_config

    command.upgrade(alembic_config(settings.database_url), "head")


async def create_key(settings: Settings, name: str) -> str:
    from app import keys
    from app.db.engine import create_engine, session_factory
    from app.db.models import ApiKey

    engine = create_engine(settings)
    new = keys.generate(settings.api_key_pepper.get_secret_value())
    async with session_factory(engine)() as session:
        session.add(ApiKey(id=new.key_id, name=name, secret_hash=new.secret_hash))
        await session.commit()
    await engine.dispose()
    return new.plaintext


def _variable(location: tuple) -> str:
    """The environment variable a settings error is about (fields read APP_<NAME>)."""
    name = str(location[0])
    variable = name if name.isupper() else f"APP_{name.upper()}"
    return ".".join([variable, *(str(part) for part in location[1:])])


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = cli.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API with uvicorn (HOST, PORT)")
    commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    key_commands = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="action", required=True)
    create = key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who the key is for")
    args = cli.parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as error:
        for item in error.errors():
            # A validator's own message names its variables; pydantic prefixes it with this.
            message = item["msg"].removeprefix("Value error, ")
            where = f"setting {_variable(item['loc'])}" if item["loc"] else "settings"
            print(f"invalid {where}: {message}", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"invalid setting: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        migrate(settings)
    else:
        print(asyncio.run(create_key(settings, args.name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
