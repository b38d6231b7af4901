"""Test fixtures: every test gets its own database, on SQLite and (when
EXAMENGINE_TEST_POSTGRES_URL is set) on PostgreSQL.

Databases are cloned from templates built once per session (a migrated empty schema, and
one with the catalog loaded): a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL. Each clone is dropped after its test.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from examengine.config import Settings

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("EXAMENGINE_TEST_POSTGRES_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


class DatabaseFactory:
    """Builds template databases once and hands out fresh clones of them.

    On PostgreSQL, cloning (``CREATE DATABASE ... TEMPLATE``, ~0.3 s) and dropping (~0.2 s) are
    mostly the server waiting on the disk, so they are done ahead and behind on a thread of the
    factory's own: when a test gets a clone of a template, the next clone of that template is
    made while the test runs, and a test's database is dropped while the next test runs. Every
    test still gets a fresh clone that nothing else has touched."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.templates: dict[str, str] = {}
        self.created: list[str] = []
        self.tag = uuid.uuid4().hex[:8]
        self._engine = None
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ee-db") if backend != "sqlite" else None
        self._spares: dict[str, Future] = {}  # template database -> the clone being made ahead
        self._drops: list[Future] = []
        self.shared: SharedTemplates | None = None  # templates built once per run for every worker

    # -- PostgreSQL helpers
    def _admin(self):
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            return self._engine

    def _execute(self, sql: str) -> None:
        with self._admin().connect() as conn:
            conn.execute(text(sql))

    def _pg_url(self, name: str) -> str:
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def _new_name(self, prefix: str) -> str:
        return f"ee_{prefix}_{self.tag}_{uuid.uuid4().hex[:8]}"

    def empty(self) -> str:
        """A brand-new empty database (no schema)."""
        name = self._new_name("t")
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        self._execute(f'CREATE DATABASE "{name}"')
        with self._lock:
            self.created.append(name)
        return self._pg_url(name)

    def template(self, key: str, build: Callable[[str], None]) -> str:
        if self.shared is not None:
            return self.shared.get(self.backend, key, build)
        if key not in self.templates:
            url = self.empty()
            build(url)
            self.templates[key] = url
        return self.templates[key]

    def _clone_of(self, src_name: str) -> str:
        name = self._new_name("c")
        with self._lock:
            self.created.append(name)  # dropped by close() even if the test never takes it
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{src_name}"')
        return name

    def clone(self, template_url: str) -> str:
        name = self._new_name("c")
        if self.backend == "sqlite":
            src = Path(make_url(template_url).database)
            dst = self.workdir / (name + ".db")
            shutil.copyfile(src, dst)
            return f"sqlite:///{dst}"
        src_name = make_url(template_url).database
        spare = self._spares.pop(src_name, None)
        name = spare.result() if spare is not None else self._clone_of(src_name)
        self._spares[src_name] = self._worker.submit(self._clone_of, src_name)
        return self._pg_url(name)

    def _drop_name(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with self._lock:
            if name in self.created:
                self.created.remove(name)

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(make_url(url).database + suffix).unlink(missing_ok=True)
            return
        name = make_url(url).database
        self._drops = [f for f in self._drops if not f.done() or f.result()]  # a failed drop fails here
        self._drops.append(self._worker.submit(self._drop_name, name))

    def close(self) -> None:
        if self._worker is not None:
            for future in [*self._spares.values(), *self._drops]:
                future.exception()  # wait; a database it failed to drop is dropped below
            self._worker.shutdown(wait=True)
            self._spares.clear()
        for url in list(self.templates.values()):
            if self.backend == "sqlite":
                self.drop(url)
            else:
                self._drop_name(make_url(url).database)
        for name in list(self.created):
            self._drop_name(name)
        if self._engine is not None:
            self._engine.dispose()


TEMPLATE_KEYS = {"migrated_db_url": "migrated", "db_url": "catalog", "bank_db_url": "bank"}


class SharedTemplates:
    """Template databases built once per test run and shared by the pytest-xdist workers.

    Building the templates is the suite's largest fixed cost (the sample bank takes ~45 s on
    SQLite and ~2 min on PostgreSQL on a busy machine), and every worker used to build all of
    them. Now the first worker to need a template claims it (a file created exclusively in the
    run's shared temporary directory) and builds it; a worker that needs a template another one
    is building builds, meanwhile, the next template of this run nobody has claimed yet, so the
    work is split instead of done twice and nobody waits idle while there is some left. A
    template is only ever read (cloned) once its ``.done`` file exists. PostgreSQL templates are
    dropped by the process that started the run (``pytest_sessionfinish`` below)."""

    def __init__(self, root: Path, run: str) -> None:
        self.root, self.run = root, run
        self.needed: list[tuple[str, str]] = []  # (backend, key) in the order the run's tests need them

    def _file(self, backend: str, key: str, what: str) -> Path:
        return self.root / f"ee-template-{self.run}-{backend}-{key}.{what}"

    def url(self, backend: str, key: str) -> str:
        name = f"ee_tpl_{self.run}_{key}"
        if backend == "sqlite":
            return f"sqlite:///{self.root / (name + '.db')}"
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def _claim(self, backend: str, key: str) -> bool:
        try:
            os.close(os.open(self._file(backend, key, "claim"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def _build(self, backend: str, key: str, build: Callable[[str], None], *, reraise: bool = False) -> bool:
        url = self.url(backend, key)
        try:
            if backend != "sqlite":
                engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
                engine.dispose()
            build(url)
        except Exception as exc:  # noqa: BLE001 - reported to every test that needs this template
            self._file(backend, key, "failed").write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
            if reraise:
                raise
            return False
        self._file(backend, key, "done").write_text(url, encoding="utf-8")
        return True

    def get(self, backend: str, key: str, build: Callable[[str], None]) -> str:
        deadline = time.monotonic() + 1800
        while True:
            if self._file(backend, key, "done").exists():
                return self.url(backend, key)
            failed = self._file(backend, key, "failed")
            if failed.exists():
                raise RuntimeError(f"building the {key} template on {backend} failed: {failed.read_text('utf-8')}")
            if self._claim(backend, key):
                self._build(backend, key, build, reraise=True)
                return self.url(backend, key)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {key} template on {backend} was not built in 30 minutes")
            for other in self.needed:  # someone else builds it: build another one meanwhile
                if not self._file(*other, "claim").exists() and self._claim(*other):
                    self._build(*other, TEMPLATE_BUILDERS[other[1]])
                    break
            else:
                time.sleep(0.1)


@pytest.fixture(scope="session")
def shared_templates(tmp_path_factory, request) -> SharedTemplates:
    shared = hasattr(request.config, "workerinput")
    root = tmp_path_factory.getbasetemp().parent if shared else tmp_path_factory.getbasetemp()
    run = os.environ["PYTEST_XDIST_TESTRUNUID"][:8] if shared else uuid.uuid4().hex[:8]
    templates = SharedTemplates(root, run)
    templates.needed = getattr(request.config, "ee_templates_needed", [])
    return templates


def pytest_sessionfinish(session) -> None:
    """The process that started the run (not an xdist worker) drops the PostgreSQL templates."""
    if hasattr(session.config, "workerinput") or not POSTGRES_URL:
        return
    names = [make_url(f.read_text("utf-8")).database
             for f in session.config._tmp_path_factory.getbasetemp().glob("ee-template-*-postgresql-*.done")]
    if not names:
        return
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def sqlite_only(backend) -> None:
    """A test that asks for this runs on SQLite only (pytest_collection_modifyitems deselects its
    other variants: a skip in CI would hide a failure)."""


@pytest.fixture
def postgresql_only(backend) -> None:
    """A test that asks for this runs on PostgreSQL only (deselected elsewhere, never skipped)."""


# The longest tests (measured in CI's --durations) start first: under xdist a long test collected
# late leaves the other core idle at the end of the run.
SLOW_FIRST = (
    "tests/calibration/test_launch.py", "tests/test_fuzz.py", "tests/attempts/test_workers.py",
    "tests/calibration/test_engine_recovery.py", "tests/accounts/test_users_cli.py", "tests/test_proxy.py",
    "tests/attempts/test_concurrency.py", "tests/attempts/test_crash.py", "tests/test_packaging.py",
)


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        names = getattr(item, "fixturenames", ())
        only = "sqlite" if "sqlite_only" in names else "postgresql" if "postgresql_only" in names else None
        # a page test drives a browser: what it tests is the page, so it runs on SQLite; the
        # database under the pages runs on both backends through the API and service tests
        if only is None and item.get_closest_marker("browser") is not None:
            only = "sqlite"
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        (drop if only is not None and backend is not None and backend != only else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    items.sort(key=lambda item: next((k for k, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)),
                                     len(SLOW_FIRST)))  # stable: otherwise collection order
    _shard(config, items)
    needed: list[tuple[str, str]] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        for fixture, key in TEMPLATE_KEYS.items():
            if backend and fixture in getattr(item, "fixturenames", ()) and (backend, key) not in needed:
                needed.append((backend, key))
    config.ee_templates_needed = needed


@pytest.fixture(scope="session")
def db_factory(backend: str, tmp_path_factory, shared_templates) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    factory.shared = shared_templates
    yield factory
    factory.close()


def _migrate(url: str) -> None:
    from examengine.db import migrate

    migrate.upgrade(url)


def _migrate_and_load_catalog(url: str) -> None:
    from examengine.datafiles import read_standards_dir
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.services.catalog import load_catalog

    _migrate(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        load_catalog(db, read_standards_dir(REPO / "blueprints" / "standards"))
    engine.dispose()


@pytest.fixture
def empty_db_url(db_factory: DatabaseFactory) -> Iterator[str]:
    """A database with no schema at all."""
    url = db_factory.empty()
    yield url
    db_factory.drop(url)


@pytest.fixture
def migrated_db_url(db_factory: DatabaseFactory) -> Iterator[str]:
    """A database migrated to head, with no data."""
    url = db_factory.clone(db_factory.template("migrated", _migrate))
    yield url
    db_factory.drop(url)


@pytest.fixture
def db_url(db_factory: DatabaseFactory) -> Iterator[str]:
    """A database migrated to head with the standards catalog loaded."""
    url = db_factory.clone(db_factory.template("catalog", _migrate_and_load_catalog))
    yield url
    db_factory.drop(url)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, data_dir=REPO)


@pytest.fixture
def db(db_url: str):
    from examengine.db.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


STAFF_PASSWORD = "correct horse battery"


class _StaffPasswordHashedOnce:
    """The password hasher, hashing the fixtures' STAFF_PASSWORD once per session.

    Every staff account the fixtures make (``staff_client``: one per test that signs in, some 220
    of them) has this password, and argon2 costs ~0.2 s of CPU a hash and a verification. The
    hash made once is a real argon2 hash of that password, so verifying that password against it
    is known to succeed and is skipped; every other password, and every other hash, goes to
    argon2 (wrong passwords, unknown users' dummy hash, other accounts' passwords)."""

    def __init__(self, real) -> None:
        self._real = real
        self._hash: str | None = None

    def __getattr__(self, name):
        return getattr(self._real, name)

    def hash(self, password, **kwargs) -> str:
        if password != STAFF_PASSWORD or kwargs:
            return self._real.hash(password, **kwargs)
        if self._hash is None:
            self._hash = self._real.hash(password)
        return self._hash

    def verify(self, hash, password) -> bool:  # noqa: A002 - argon2's own parameter name
        if self._hash is not None and hash == self._hash and password == STAFF_PASSWORD:
            return True
        return self._real.verify(hash, password)


@pytest.fixture(scope="session", autouse=True)
def _staff_password_hashed_once() -> Iterator[None]:
    from examengine.services import accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", _StaffPasswordHashedOnce(accounts._hasher))
        yield


def edited_blueprint(folder: Path, code: str, edit: Callable[[dict], None]) -> Path:
    """A shipped blueprint's YAML (``blueprints/{code}.yaml``) changed by ``edit`` (which changes the
    parsed document in place), written to ``folder``: a centre's edited blueprint file."""
    import yaml

    doc = yaml.safe_load((REPO / "blueprints" / f"{code}.yaml").read_text(encoding="utf-8"))
    edit(doc)
    path = folder / f"{code}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_edited_blueprint(url: str, folder: Path, code: str, edit: Callable[[dict], None]) -> None:
    """:func:`edited_blueprint` stored as the blueprint's new (latest) version in the database at ``url``."""
    from examengine.datafiles import read_blueprint_file
    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.services.blueprints import load_blueprints

    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        load_blueprints(db, [read_blueprint_file(edited_blueprint(folder, code, edit))], actor="test")
        db.commit()
    engine.dispose()


def ensure_staff(url: str, username: str, role: str) -> None:
    """A staff account in the database at ``url`` (created once)."""
    from sqlalchemy import select

    from examengine.db.engine import make_engine, make_sessionmaker
    from examengine.db.models import User
    from examengine.services.accounts import Role, create_user

    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        if db.scalars(select(User).where(User.username == username)).first() is None:
            create_user(db, username=username, password=STAFF_PASSWORD, role=Role(role))
    engine.dispose()


def staff_client(settings: Settings, username: str = "admin-test", role: str = "admin"):
    """A TestClient signed in as a staff member (a bearer token on every request; a request
    that passes its own Authorization header, like a candidate's, replaces it)."""
    from fastapi.testclient import TestClient

    from examengine.app import create_app

    c = TestClient(create_app(settings), headers={"origin": "http://testserver"})
    c.__enter__()
    sign_in(c, settings.database_url, username, role)
    return c


def sign_in(c, url: str, username: str, role: str) -> None:
    """Sign ``c`` (a TestClient of the app on ``url``) in as staff member ``username`` (made with
    ``role`` if missing): a bearer token on every request from now on."""
    ensure_staff(url, username, role)
    r = c.post("/api/v1/sessions", json={"username": username, "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"


@pytest.fixture
def client(settings: Settings):
    c = staff_client(settings)
    yield c
    c.__exit__(None, None, None)


@pytest.fixture
def cli_env(monkeypatch, db_url: str) -> str:
    """Point the CLI (which reads settings from the environment) at this test's database."""
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", db_url)
    monkeypatch.setenv("EXAMENGINE_DATA_DIR", str(REPO))
    return db_url


def _initialize(url: str) -> None:
    from examengine.services.setup import initialize

    initialize(Settings(database_url=url, data_dir=REPO))


TEMPLATE_BUILDERS = {"migrated": _migrate, "catalog": _migrate_and_load_catalog, "bank": _initialize}


@pytest.fixture
def bank_db_url(db_factory: DatabaseFactory) -> Iterator[str]:
    """A database as `examengine init` leaves it: catalog and the sample bank (operational)."""
    url = db_factory.clone(db_factory.template("bank", _initialize))
    yield url
    db_factory.drop(url)


@pytest.fixture
def bank_db(bank_db_url: str):
    from examengine.db.engine import make_engine, make_sessionmaker

    engine = make_engine(bank_db_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="session")
def sample_drafts():
    """Every item of the shipped sample bank, parsed (ItemDraft)."""
    from examengine.itemfiles.json_format import read_json

    out = []
    for path in sorted((REPO / "itembank").glob("*.json")):
        parsed = read_json(path.read_bytes(), path.name)
        assert not parsed.problems, parsed.problems[:3]
        out.extend(parsed.items)
    return out


def pytest_addoption(parser):
    parser.addoption("--shard", default=None, metavar="I/N",
                     help="run only the tests whose position in collection order is I modulo N (the rest are "
                          "reported as deselected): CI runs the lowest-direct suite a third at a time")


def _shard(config, items) -> None:
    shard = config.getoption("--shard")
    if not shard:
        return
    index, count = (int(x) for x in shard.split("/"))
    keep = [item for k, item in enumerate(items) if k % count == index]
    drop = [item for k, item in enumerate(items) if k % count != index]
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
