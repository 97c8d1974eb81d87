"""Helpers shared by the benchmark scripts of this folder: database options,
running the ``odoo`` command line in a subprocess, opening the registry,
dropping the database and writing the results under ``bench/out/``.

Plain functions, imported by the scripts (``import _odoo_bench as bench``);
``odoo`` is imported only where needed so that ``--help`` works without it.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def add_common_args(parser, default_db):
    """Options every benchmark takes: the database name, ``--keep`` and the
    PostgreSQL connection / addons path."""
    parser.add_argument("--db", default=default_db)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", default="5432")
    parser.add_argument("--db-user", default="odoo")
    parser.add_argument("--db-password", default="odoo")
    parser.add_argument("--addons-path", default=None, help="default: Odoo's addons + this repository")


def odoo_args(args):
    """Odoo command-line options for the addons path and the database connection."""
    import odoo  # noqa: PLC0415

    addons = args.addons_path or f"{Path(odoo.__file__).parent / 'addons'},{ROOT}"
    return [
        f"--addons-path={addons}",
        f"--db_host={args.db_host}",
        f"--db_port={args.db_port}",
        f"--db_user={args.db_user}",
        f"--db_password={args.db_password}",
    ]


def run_odoo(args, *extra):
    """Run Odoo's command line (same Python) in a subprocess; raises if it fails."""
    cmd = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", *odoo_args(args), *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def drop_db(args):
    env = dict(os.environ, PGPASSWORD=args.db_password)
    subprocess.run(
        ["dropdb", "-h", args.db_host, "-p", args.db_port, "-U", args.db_user, "--if-exists", args.db],
        check=True,
        env=env,
    )


def install(args, modules, label=None):
    """Drop ``args.db`` and install ``modules`` (comma-separated) in a fresh
    database without demo data, printing what it does and how long it took."""
    drop_db(args)
    print(f"Installing {label or modules} in {args.db} …", flush=True)
    start = time.perf_counter()
    run_odoo(
        args,
        "-d",
        args.db,
        "-i",
        modules,
        "--without-demo=all",
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
    )
    print(f"  installed in {time.perf_counter() - start:.0f} s")


def open_registry(args):
    """Configure Odoo in this process for ``args.db`` and return its registry."""
    import odoo  # noqa: PLC0415

    odoo.tools.config.parse_config([*odoo_args(args), "-d", args.db, "--log-level=warn"])
    return odoo.modules.registry.Registry(args.db)


def close_registry(args, registry):
    """Release the registry and its connections, then drop the database
    unless ``--keep``."""
    import odoo  # noqa: PLC0415

    registry.delete(args.db)
    odoo.sql_db.close_db(args.db)
    if not args.keep:
        drop_db(args)


def vacuum_analyze(registry, *tables):
    """``VACUUM ANALYZE`` the tables (what autovacuum does after a bulk insert)."""
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        for table in tables:
            cr.execute(f"VACUUM ANALYZE {table}")


def write_results(name, results):
    """Write ``results`` as ``bench/out/<name>.json``."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(results, indent=2))
