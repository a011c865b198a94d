"""Admin user, import and export of the dashboards, run inside Superset's own virtualenv.

`exohunter dashboards up` runs this script with the Superset environment's Python after
`superset db upgrade` and `superset init`, so that the admin user and the import share one
Superset start-up. The import uses Superset's assets importer (the one behind
POST /api/v1/assets/import/): it overwrites databases, datasets, charts and dashboards by UUID,
so a re-run changes nothing and an edited YAML file wins. The warehouse password is passed at
import, never written in the bundle.

    python manage.py setup ASSETS     # the admin user (EXOHUNTER_SUPERSET_ADMIN_PASSWORD),
                                      # then the import (EXOHUNTER_SUPERSET_WAREHOUSE_URL:
                                      # the read-only role)
    python manage.py export TARGET    # the bundle as Superset exports it, password masked
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ADMIN_USERNAME = "admin"
COMMANDS = ("setup", "export")  # what main() accepts (docker-compose.yml calls `setup`)
MASKED_PASSWORD = "X" * 10  # Superset's PASSWORD_MASK


def create_admin() -> bool:
    """Create the admin user if it does not exist; True if created."""
    from superset import security_manager

    if security_manager.find_user(username=ADMIN_USERNAME):
        return False
    role = security_manager.find_role("Admin")
    user = security_manager.add_user(
        ADMIN_USERNAME,
        "ExoHunter",
        "Admin",
        "admin@exohunter.invalid",
        role,
        password=os.environ["EXOHUNTER_SUPERSET_ADMIN_PASSWORD"],
    )
    if not user:
        raise SystemExit("could not create the Superset admin user")
    return True


def read_bundle(assets: Path, warehouse_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The bundle's files by relative path, with each database pointed at ``warehouse_url``
    (password masked), and the password for each database file."""
    from sqlalchemy.engine.url import make_url

    url = make_url(warehouse_url).set(drivername="postgresql+psycopg2")
    contents, passwords = {}, {}
    for path in sorted(assets.rglob("*.yaml")):
        name = path.relative_to(assets).as_posix()
        text = path.read_text(encoding="utf-8")
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = str(url.set(password=MASKED_PASSWORD))
            text = yaml.safe_dump(config, sort_keys=False)
            passwords[name] = url.password or ""
        contents[name] = text
    return contents, passwords


def import_bundle(assets: Path) -> None:
    from superset.commands.importers.v1.assets import ImportAssetsCommand

    contents, passwords = read_bundle(assets, os.environ["EXOHUNTER_SUPERSET_WAREHOUSE_URL"])
    ImportAssetsCommand(contents, passwords=passwords).run()
    kinds = {name.split("/")[0] for name in contents if "/" in name}
    counts = {kind: sum(n.startswith(f"{kind}/") for n in contents) for kind in sorted(kinds)}
    print("imported " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def export_bundle(target: Path) -> None:
    """Replace the bundle in ``target``: Superset names files after titles and ids, so a kept
    old file would import the same UUID twice."""
    from superset.commands.export.assets import ExportAssetsCommand

    (target / "metadata.yaml").unlink(missing_ok=True)
    for kind in ("databases", "datasets", "charts", "dashboards"):
        for old in (target / kind).rglob("*.yaml"):
            old.unlink()
    for name, content in ExportAssetsCommand().run():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content(), encoding="utf-8")
        print(f"exported {name}")


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        raise SystemExit("usage: manage.py setup ASSETS | export TARGET")
    from flask import g
    from superset import security_manager
    from superset.app import create_app

    command, folder = argv
    with create_app().app_context():
        if command == "setup":
            print("admin created" if create_admin() else "admin exists")
        # Imported and exported objects belong to the admin.
        g.user = security_manager.find_user(username=ADMIN_USERNAME)
        if command == "setup":
            import_bundle(Path(folder))
        else:
            export_bundle(Path(folder))


if __name__ == "__main__":
    main(sys.argv[1:])
