"""The SQL behind the database secrets engine: what Vault runs to create and drop the
app's short-lived PostgreSQL users, and the one-time bootstrap an operator runs first.

Short-lived users own nothing. Two NOLOGIN group roles carry the grants:

- `<owner>` owns the schema's objects. Migration users join it and switch to it at
  login (`ALTER ROLE ... SET role`), so every table a migration creates belongs to the
  owner, not to a user that Vault drops an hour later.
- `<runtime>` may read and write rows and use sequences, and nothing else: no DDL, no
  TRUNCATE, no other schema. Default privileges hand it every table the owner creates.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"'{name}' is not a plain SQL identifier (letters, digits and underscores)")
    return f'"{name}"'


@dataclass(frozen=True)
class GroupRoles:
    owner: str = "project_ai_owner"
    runtime: str = "project_ai_app"
    schema: str = "public"

    def runtime_creation(self) -> list[str]:
        return [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' "
            f"IN ROLE {_identifier(self.runtime)};",
        ]

    def migration_creation(self) -> list[str]:
        return [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' "
            f"IN ROLE {_identifier(self.owner)};",
            f'ALTER ROLE "{{{{name}}}}" SET role = {_identifier(self.owner)};',
        ]

    def revocation(self) -> list[str]:
        # The user owns nothing (objects belong to the owner role), so it can be dropped.
        # Its open sessions end when Reloader restarts the pods on the new credentials.
        return ['DROP ROLE IF EXISTS "{{name}}";']

    def root_rotation(self) -> list[str]:
        return ["ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';"]

    def bootstrap(self, database: str, vault_user: str, create_vault_user: bool = True) -> list[str]:
        """Run once by a database administrator, before Vault is configured. The Vault
        user gets CREATEROLE and admin of the two groups, and no other privilege; its
        password is set by the administrator and rotated by Vault from then on. On a
        cloud database Vault uses the master user, which exists already."""
        owner, runtime, schema = _identifier(self.owner), _identifier(self.runtime), _identifier(self.schema)
        vault = _identifier(vault_user)
        vault_user_statement = f"CREATE ROLE {vault} WITH LOGIN CREATEROLE NOINHERIT PASSWORD :'vault_password';"
        return [
            # Idempotent: a second run (a re-created bootstrap Job) changes nothing.
            *(_create_once(role) for role in (owner, runtime)),
            f"GRANT CONNECT, TEMPORARY ON DATABASE {_identifier(database)} TO {owner}, {runtime};",
            f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner};",
            f"GRANT USAGE ON SCHEMA {schema} TO {runtime};",
            # Default privileges are set as the owner: a cloud database's master user is
            # no superuser, and PostgreSQL 16 lets it change them only for a role it is.
            f"GRANT {owner} TO CURRENT_USER;",
            f"SET ROLE {owner};",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime};",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {runtime};",
            "RESET ROLE;",
            # NOINHERIT: admin of the groups, without their privileges on the tables. A
            # cloud database's master user created the groups, so it administers them.
            *(
                [vault_user_statement, f"GRANT {owner}, {runtime} TO {vault} WITH ADMIN OPTION;"]
                if create_vault_user
                else []
            ),
        ]

    def adoption(self, former_owner: str) -> list[str]:
        """Run after `bootstrap`, as the same user, on a database another role's copy
        filled: a promoted DMS standby, whose every object belongs to DMS's
        `cloudsqlexternalsync`. The objects go to the owner group (migrations alter them
        as it), and the runtime group gets its rights on the tables and sequences that
        exist already (default privileges cover only those created later). Idempotent;
        nothing happens where the role does not exist."""
        owner, runtime, schema = _identifier(self.owner), _identifier(self.runtime), _identifier(self.schema)
        former = _identifier(former_owner)
        return [
            # REASSIGN needs the rights of both roles: the user is the owner group's member
            # (bootstrap) and makes itself the former owner's (Cloud SQL lets its
            # administrator take DMS's role, as Google's DMS guide says to).
            f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{former_owner}') THEN "
            f"GRANT {former} TO CURRENT_USER; REASSIGN OWNED BY {former} TO {owner}; END IF; END $$;",
            f"SET ROLE {owner};",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {runtime};",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {runtime};",
            "RESET ROLE;",
        ]


def _create_once(role: str) -> str:
    return f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"


def main() -> None:
    """`python -m components.vault.database [--database D] [--vault-user U]`: prints the
    bootstrap for psql, which takes the password as `-v vault_password=...`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--database", default="project_ai")
    parser.add_argument("--vault-user", default="vault")
    parser.add_argument("--vault-user-exists", action="store_true", help="a cloud database's master user")
    args = parser.parse_args()
    print("\n".join(GroupRoles().bootstrap(args.database, args.vault_user, not args.vault_user_exists)))


if __name__ == "__main__":
    main()
