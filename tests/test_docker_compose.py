"""Structure of the docker-compose deployment (docker-compose.yml, Dockerfile, docker/).

There is no Docker engine where the tests run, so this checks what can be checked without one:
the compose file's structure, the commands each service runs against the real Airflow CLI of the
project's environment, the Airflow options it sets against the real Airflow configuration, the
init scripts by running them (PostgreSQL one against a throw-away server when one can be started),
and the Dockerfile.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DOCKER_DIR = ROOT / "docker"
PG_INIT_DIR = DOCKER_DIR / "postgres"
AIRFLOW_INIT = DOCKER_DIR / "airflow-init.sh"
ENV_EXAMPLE = DOCKER_DIR / "env.example"

AIRFLOW_VERSION = "3.3.2"
BASE_IMAGE = f"apache/airflow:{AIRFLOW_VERSION}-python3.11"
BIN = Path(sys.executable).parent  # the venv running pytest: airflow and spm live beside python
AIRFLOW_BIN = BIN / "airflow"
SPM_BIN = BIN / "spm"

# service -> the Airflow CLI command it must run (Airflow 3 names).
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
AIRFLOW_SERVICES = [*AIRFLOW_COMMANDS, "airflow-init"]
REQUIRED_SERVICES = ["postgres", "redis", *AIRFLOW_SERVICES]

VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves anchors and `<<` merge keys
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def expand_defaults(value: str) -> str:
    """Interpolate ${VAR:-default} the way compose does when .env does not set VAR."""

    def repl(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if op in (":-", "-"):
            return arg
        raise AssertionError(f"${{{name}}} has no default")

    return VAR_RE.sub(repl, value.replace("$$", "\0")).replace("\0", "$")


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE list form
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_list(cmd) -> list[str]:
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def clean_env(**extra) -> dict[str, str]:
    """An environment for running the venv's airflow CLI: no AIRFLOW_* or SPM_* from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPM_"))}
    env.update(extra)
    return env


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)  # line continuations
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            for token in shlex.split(rest):
                if "=" in token:
                    k, v = token.split("=", 1)
                    env[k] = v
    return env


# ------------------------------------------------------------------------------ services, image


def test_required_services_exist(services):
    missing = [s for s in REQUIRED_SERVICES if s not in services]
    assert not missing, f"services missing from docker-compose.yml: {missing}"


def test_airflow_services_use_the_image_built_from_the_dockerfile(services):
    images = set()
    for name in [*AIRFLOW_SERVICES, *(s for s in services if s in ("airflow-cli", "flower"))]:
        svc = services[name]
        build = svc.get("build")
        assert build is not None, f"{name}: no `build:` (must use the image built from ./Dockerfile)"
        context = build if isinstance(build, str) else build.get("context")
        assert context in (".", "./"), f"{name}: build context is {context!r}, expected ."
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE
        assert "image" in svc, f"{name}: give the built image a tag so all services share it"
        images.add(expand_defaults(svc["image"]))
    assert len(images) == 1, f"Airflow services use different images: {images}"
    (image,) = images
    assert AIRFLOW_VERSION in image, f"image tag {image!r} does not say {AIRFLOW_VERSION}"
    assert not image.startswith("apache/airflow"), "the image must be the project's, not the bare base"


def test_dockerfile_base_image_and_installs():
    instructions = dockerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms == [BASE_IMAGE], f"Dockerfile FROM is {froms}, expected [{BASE_IMAGE!r}]"

    runs = [rest for word, rest in instructions if word == "RUN"]
    copies = [rest for word, rest in instructions if word == "COPY"]
    env = dockerfile_env()
    project = env.get("SPM_PROJECT_DIR")
    assert project, "Dockerfile sets no SPM_PROJECT_DIR"

    # requirements.txt copied and installed with pip, as the airflow user (not root).
    assert any("requirements.txt" in c.split()[:-1] for c in copies), "requirements.txt is not copied into the image"
    pip_runs = [r for r in runs if re.search(r"\bpip install\b", r)]
    assert any(re.search(r"-r\s+\S*requirements\.txt", r) for r in pip_runs), "requirements.txt not pip-installed"
    user = None
    for word, rest in instructions:
        if word == "USER":
            user = rest
        if word == "RUN" and re.search(r"\bpip install\b", rest):
            assert user == "airflow", f"pip install runs as {user!r}, the official image wants USER airflow"

    # The project copied to SPM_PROJECT_DIR and installed without dependencies.
    assert any(c.split()[-1].rstrip("/") == project and c.split()[-2] == "." for c in copies), (
        f"the checkout is not copied to {project}"
    )
    assert any(
        "--no-deps" in r and re.search(rf"(-e\s+)?{re.escape(project)}\b", r) for r in pip_runs
    ), f"no `pip install --no-deps -e {project}`"

    # The base tag, requirements.txt and pyproject agree on the Airflow version.
    reqs = (ROOT / "requirements.txt").read_text()
    assert re.search(rf"^apache-airflow=={re.escape(AIRFLOW_VERSION)}$", reqs, re.M)
    assert f"apache-airflow=={AIRFLOW_VERSION}" in (ROOT / "pyproject.toml").read_text()


def test_dockerignore_keeps_what_the_image_needs_and_drops_secrets():
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    for must in (".git", ".venv", ".spm", ".env"):
        assert must in patterns, f".dockerignore should exclude {must}"
    needed = ["requirements.txt", "pyproject.toml", "src/spm/__init__.py", "dags", "sql", "expectations",
              "docker/airflow-init.sh", "README.md"]
    for path in needed:
        for pat in patterns:
            p = pat.lstrip("/").rstrip("/")
            hit = fnmatch.fnmatch(path, p) or path.startswith(p + "/") or fnmatch.fnmatch(path, p.replace("**/", ""))
            assert not hit or pat.startswith("!"), f".dockerignore pattern {pat!r} drops {path}, which the image needs"


def test_project_paths_in_compose_match_the_dockerfile(services):
    df_env = dockerfile_env()
    project = df_env["SPM_PROJECT_DIR"]
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env.get("SPM_PROJECT_DIR", project) == project
        assert env.get("AIRFLOW__CORE__DAGS_FOLDER") == f"{project}/dags", f"{name}: DAGS_FOLDER"
        assert env.get("AIRFLOW__CORE__LOAD_EXAMPLES") == "false", f"{name}: LOAD_EXAMPLES must be 'false'"
        spm_home = env.get("SPM_HOME")
        assert spm_home, f"{name}: SPM_HOME not set"
        targets = {v.split(":")[1] for v in services[name].get("volumes", []) if isinstance(v, str)}
        assert spm_home in targets, f"{name}: SPM_HOME {spm_home} is not on a volume"
        assert "/opt/airflow/logs" in targets, f"{name}: logs are not on a volume"
    assert (ROOT / "dags").is_dir() and (ROOT / "sql").is_dir()


# ------------------------------------------------------------------------------- commands vs CLI


def test_services_run_the_airflow_3_commands(services):
    for name, expected in AIRFLOW_COMMANDS.items():
        svc = services[name]
        assert "entrypoint" not in svc, f"{name}: keep the image's entrypoint"
        cmd = command_list(svc.get("command"))
        if cmd[:1] == ["airflow"]:
            cmd = cmd[1:]
        assert cmd == expected, f"{name} runs {cmd}, expected {expected}"


@functools.lru_cache(maxsize=None)
def _provider_celery_importable() -> bool:
    probe = run([sys.executable, "-c", "import airflow.providers.celery.executors.celery_executor"],
                env=clean_env(AIRFLOW_HOME=tempfile.mkdtemp()))
    return probe.returncode == 0


@pytest.mark.slow
def test_airflow_cli_subcommands_exist(tmp_path):
    """Every Airflow command the stack runs exists in the project's Airflow (`airflow X --help`)."""
    assert AIRFLOW_BIN.exists(), f"no airflow CLI at {AIRFLOW_BIN}"
    commands = [
        ["api-server"], ["scheduler"], ["dag-processor"], ["triggerer"],  # services
        ["db", "migrate"], ["db", "check"], ["variables", "set"], ["variables", "get"],  # init
        ["jobs", "check"],  # healthchecks
    ]
    celery = _provider_celery_importable()
    if celery:
        commands += [["celery", "worker"], ["celery", "flower"]]
    env = clean_env(AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__EXECUTOR="CeleryExecutor" if celery else "LocalExecutor")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: (c, run([str(AIRFLOW_BIN), *c, "--help"], env=env)), commands))
    for cmd, res in results:
        assert res.returncode == 0 and "usage: airflow" in res.stdout.lower(), (
            f"`airflow {' '.join(cmd)} --help` failed:\n{res.stdout[-500:]}\n{res.stderr[-1500:]}"
        )
    jobs_help = dict((tuple(c), r.stdout) for c, r in results)[("jobs", "check")]
    for job_type in ("DagProcessorJob", "TriggererJob"):
        assert job_type in jobs_help


def test_celery_provider_is_pinned_and_consistent(services):
    """The worker needs apache-airflow-providers-celery: pinned in requirements.txt, which the image
    installs (the same pins the system test runs on)."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"requirements.txt: {line!r} is not an exact pin"
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    assert re.fullmatch(r"\d+\.\d+\.\d+", pins.get("apache-airflow-providers-celery", "")), "celery provider not pinned"
    assert "celery" in pins and "redis" in pins, "celery and its redis client should be pinned too"
    runs = [rest for word, rest in dockerfile_instructions() if word == "RUN"]
    assert any("pip install" in r and "requirements.txt" in r for r in runs), "the Dockerfile does not install requirements.txt"
    if _provider_celery_importable():  # then the installed one should be the pinned one
        from importlib.metadata import version

        assert version("apache-airflow-providers-celery") == pins["apache-airflow-providers-celery"]


@pytest.mark.slow
def test_airflow_options_exist_in_airflow_3_3_2(services, tmp_path):
    """Every AIRFLOW__SECTION__KEY the stack sets is a real option; *_CMD only for sensitive ones."""
    options: set[tuple[str, str, str]] = set()
    for name in AIRFLOW_SERVICES:
        for key in env_of(services[name]):
            m = re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)", key)
            if m:
                options.add((key, m.group(1).lower(), m.group(2).lower()))
    assert options
    if not _provider_celery_importable():
        # [celery] options are defined by apache-airflow-providers-celery, which only the image has.
        options = {o for o in options if o[1] != "celery"}
    probe = textwrap.dedent(
        """
        import json, sys
        import airflow
        from airflow.configuration import conf
        from airflow.api_fastapi.core_api.routes.public.monitor import monitor_router
        out = {"version": airflow.__version__, "missing": [], "not_sensitive": []}
        for key, section, option in json.loads(sys.argv[1]):
            if option.endswith("_cmd"):
                option = option[:-4]
                if (section, option) not in conf.sensitive_config_values:
                    out["not_sensitive"].append(key)
            if not conf.has_option(section, option) and option not in conf.configuration_description.get(section, {}).get("options", {}):
                out["missing"].append(key)
        out["monitor_routes"] = [r.path for r in monitor_router.routes]
        mod, _, cls = sys.argv[2].rpartition(".")
        import importlib
        getattr(importlib.import_module(mod), cls)
        print(json.dumps(out))
        """
    )
    env0 = env_of(services["airflow-apiserver"])
    res = run(
        [sys.executable, "-c", probe, json.dumps(sorted(options)), env0["AIRFLOW__CORE__AUTH_MANAGER"]],
        env=clean_env(AIRFLOW_HOME=str(tmp_path)),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["version"] == AIRFLOW_VERSION
    assert not out["missing"], f"not options of Airflow {AIRFLOW_VERSION}: {out['missing']}"
    assert not out["not_sensitive"], f"_CMD only works for sensitive options: {out['not_sensitive']}"
    health = services["airflow-apiserver"]["healthcheck"]["test"]
    path = urlsplit([t for t in health if t.startswith("http")][0]).path
    assert path.startswith("/api/v2/monitor/")
    assert path.removeprefix("/api/v2") in out["monitor_routes"], f"api-server has no route {path}"


def test_core_airflow_settings(services):
    names = set(services)
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        broker = urlsplit(expand_defaults(env["AIRFLOW__CELERY__BROKER_URL"]))
        assert broker.scheme == "redis" and broker.hostname == "redis" and "redis" in names
        backend = expand_defaults(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert backend.startswith("db+postgresql")
        exec_url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert exec_url.hostname == "airflow-apiserver" and exec_url.path == "/execution/"
        api_ports = [str(p).split(":")[-1] for p in services["airflow-apiserver"].get("ports", [])]
        assert str(exec_url.port or 80) in api_ports, "execution API URL does not use the api-server's port"
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
            assert (key in env) != (key + "_CMD" in env), f"{name}: set exactly one of {key} / {key}_CMD"
        assert env.get("AIRFLOW__API_AUTH__JWT_SECRET_CMD") == services["airflow-apiserver"]["environment"].get(
            "AIRFLOW__API_AUTH__JWT_SECRET_CMD"
        ), "all components must share the JWT secret"


# ------------------------------------------------------------------------------------ databases


def test_metadata_and_warehouse_use_separate_databases(services):
    env = env_of(services["airflow-scheduler"])
    meta = urlsplit(expand_defaults(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
    wh = urlsplit(expand_defaults(env["AIRFLOW_CONN_SPM_WAREHOUSE"]))
    backend = urlsplit(expand_defaults(env["AIRFLOW__CELERY__RESULT_BACKEND"]).removeprefix("db+"))
    assert meta.hostname == wh.hostname == "postgres" and meta.port in (None, 5432) and wh.port == 5432
    assert wh.scheme == "postgresql", "AIRFLOW_CONN_SPM_WAREHOUSE must be postgresql://...@postgres:5432/spm_warehouse"
    assert meta.path == "/airflow" and wh.path == "/spm_warehouse"
    assert meta.username != wh.username, "metadata and warehouse should use different roles"
    assert backend.path == meta.path, "Celery results belong in the metadata DB"
    if "SQL_ALCHEMY_CONN_ASYNC" in " ".join(env):
        assert urlsplit(expand_defaults(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"])).path == meta.path
    # Drivers the image certainly has: psycopg 3 is pinned in requirements.txt.
    assert meta.scheme in ("postgresql+psycopg", "postgresql+psycopg2")
    if meta.scheme == "postgresql+psycopg":
        assert re.search(r"^psycopg==", (ROOT / "requirements.txt").read_text(), re.M)
    # The warehouse URL is what the spm CLI (init: spm db upgrade) will use.
    res = run(
        [sys.executable, "-c", "import sys; from spm.settings import warehouse_url; print(warehouse_url())"],
        env=clean_env(AIRFLOW_CONN_SPM_WAREHOUSE=expand_defaults(env["AIRFLOW_CONN_SPM_WAREHOUSE"])),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith("postgresql+psycopg://spm:") and res.stdout.strip().endswith(
        "@postgres:5432/spm_warehouse"
    )


def test_postgres_service_mounts_the_init_script(services):
    pg = services["postgres"]
    mounts = [v for v in pg.get("volumes", []) if isinstance(v, str)]
    init = [m for m in mounts if m.split(":")[1] == "/docker-entrypoint-initdb.d"]
    assert init, "no init script mounted into /docker-entrypoint-initdb.d"
    host = (ROOT / init[0].split(":")[0]).resolve()
    assert host == PG_INIT_DIR.resolve(), f"{host} is not docker/postgres"
    assert any(host.glob("*.sh")) or any(host.glob("*.sql")), "nothing for the postgres image to run"
    pg_env = env_of(pg)
    app_env = env_of(services["airflow-scheduler"])
    # The passwords the script sets are the ones in the URLs (same .env variables, same defaults).
    meta = urlsplit(expand_defaults(app_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
    wh = urlsplit(expand_defaults(app_env["AIRFLOW_CONN_SPM_WAREHOUSE"]))
    assert expand_defaults(pg_env["AIRFLOW_DB_PASSWORD"]) == meta.password
    assert expand_defaults(pg_env["SPM_WAREHOUSE_PASSWORD"]) == wh.password
    assert pg_env["AIRFLOW_DB_PASSWORD"] in app_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert pg_env["SPM_WAREHOUSE_PASSWORD"] in app_env["AIRFLOW_CONN_SPM_WAREHOUSE"]
    script = (PG_INIT_DIR / "10-create-databases.sh").read_text()
    assert 'AIRFLOW_DB_NAME="${AIRFLOW_DB_NAME:-airflow}"' in script
    assert 'SPM_WAREHOUSE_DB="${SPM_WAREHOUSE_DB:-spm_warehouse}"' in script
    assert 'AIRFLOW_DB_USER="${AIRFLOW_DB_USER:-airflow}"' in script and meta.username == "airflow"
    assert 'SPM_WAREHOUSE_USER="${SPM_WAREHOUSE_USER:-spm}"' in script and wh.username == "spm"
    assert os.access(PG_INIT_DIR / "10-create-databases.sh", os.X_OK)



def _pg_runner() -> list[str] | None:
    """How to run PostgreSQL server binaries here (they refuse to run as root), or None."""
    if not (shutil.which("initdb") and shutil.which("pg_ctl") and shutil.which("psql")):
        return None
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        try:
            import pwd

            pwd.getpwnam("postgres")
            return ["runuser", "-u", "postgres", "--"]
        except KeyError:
            return None
    return None


def test_postgres_init_script_creates_both_databases(tmp_path):
    """Run docker/postgres/10-create-databases.sh against a throw-away PostgreSQL server."""
    runner = _pg_runner()
    if runner is None:
        pytest.skip("no PostgreSQL server binaries usable here (initdb, pg_ctl, psql)")
    work = Path(tempfile.mkdtemp(prefix="spm-pg-"))
    data, sock = work / "data", work
    # Run a copy from the server's own folder, as the image runs /docker-entrypoint-initdb.d: the
    # checkout may sit where the postgres user cannot read (a root-only temporary clone, say).
    script = work / "10-create-databases.sh"
    shutil.copy2(PG_INIT_DIR / "10-create-databases.sh", script)
    if runner:
        shutil.chown(work, "postgres")
        shutil.chown(script, "postgres")
    port = str(free_port())
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    res = run([*runner, "initdb", "-D", str(data), "-U", "postgres", "-A", "trust"], env=base_env)
    assert res.returncode == 0, res.stderr
    start = [*runner, "pg_ctl", "-D", str(data), "-w", "-l", str(work / "log"),
             "-o", f"-p {port} -k {sock} -c listen_addresses=''", "start"]
    res = run(start, env=base_env)
    assert res.returncode == 0, res.stderr + (work / "log").read_text()
    try:
        env = dict(base_env, PGHOST=str(sock), PGPORT=port, POSTGRES_USER="postgres", POSTGRES_DB="postgres",
                   AIRFLOW_DB_PASSWORD="it's a 'pw'", SPM_WAREHOUSE_PASSWORD='x"y$z')
        for _ in range(2):  # idempotent
            res = run([*runner, "bash", str(script)], env=env)
            assert res.returncode == 0, res.stdout + res.stderr

        def psql(user: str, db: str, sql: str) -> subprocess.CompletedProcess:
            return run(["psql", "-X", "-At", "-h", str(sock), "-p", port, "-U", user, "-d", db, "-c", sql],
                       env=base_env)

        res = psql("postgres", "postgres",
                   "select datname || ':' || pg_get_userbyid(datdba) from pg_database "
                   "where datname in ('airflow', 'spm_warehouse') order by 1")
        assert res.stdout.split() == ["airflow:airflow", "spm_warehouse:spm"], res.stdout + res.stderr
        res = psql("spm", "spm_warehouse", "create schema core; create table core.t (x int); select 1")
        assert res.returncode == 0 and res.stdout.strip().endswith("1"), res.stderr
        res = psql("airflow", "airflow", "create table t (x int); select 1")
        assert res.returncode == 0, res.stderr
        # Kept apart: neither role may connect to the other's database.
        assert psql("spm", "airflow", "select 1").returncode != 0
        assert psql("airflow", "spm_warehouse", "select 1").returncode != 0
    finally:
        run([*runner, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"], env=base_env)
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- depends_on, health


def test_depends_on_targets_exist_and_init_gates_the_rest(services):
    valid = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for target, spec in deps.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            condition = (spec or {}).get("condition", "service_started")
            assert condition in valid, f"{name} -> {target}: bad condition {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy, it has no healthcheck"
    for name in AIRFLOW_COMMANDS:
        deps = services[name]["depends_on"]
        assert deps.get("airflow-init", {}).get("condition") == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy" and deps["redis"]["condition"] == "service_healthy"
    init_deps = services["airflow-init"]["depends_on"]
    assert init_deps["postgres"]["condition"] == "service_healthy"
    assert "airflow-init" not in init_deps
    assert services["airflow-init"].get("restart") in (None, "no"), "airflow-init is one-shot"
    # No cycles.
    graph = {n: set((s.get("depends_on") or {})) for n, s in services.items()}
    seen, done = set(), set()

    def visit(n):
        assert n not in seen or n in done, f"depends_on cycle through {n}"
        if n in done:
            return
        seen.add(n)
        for m in graph[n]:
            visit(m)
        done.add(n)

    for n in graph:
        visit(n)


def test_healthchecks(services):
    for name in ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                 "airflow-triggerer", "airflow-worker"):
        hc = services[name].get("healthcheck")
        assert hc and hc.get("test"), f"{name} has no healthcheck"
        test = hc["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test form"
    pg = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in pg and "-h" in pg, "postgres: pg_isready over TCP (not the init-time socket)"
    assert "redis-cli" in " ".join(services["redis"]["healthcheck"]["test"])
    api = services["airflow-apiserver"]["healthcheck"]["test"]
    assert "curl" in api and any(t.startswith("http://localhost:8080/api/v2/") for t in api)
    worker = " ".join(services["airflow-worker"]["healthcheck"]["test"])
    assert "airflow.providers.celery.executors.celery_executor.app" in worker
    assert "$${HOSTNAME}" in COMPOSE_FILE.read_text(), "escape $ in healthchecks as $$"


# ------------------------------------------------------------------------------ volumes, ${VARS}


def test_volumes_are_declared_and_bind_mounts_exist(compose, services):
    declared = set((compose.get("volumes") or {}).keys())
    used = set()
    for name, svc in services.items():
        for vol in svc.get("volumes", []) or []:
            if isinstance(vol, dict):
                source = vol.get("source", "")
                kind = vol.get("type", "volume")
            else:
                source = expand_defaults(vol).split(":")[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "volume":
                assert source in declared, f"{name} uses undeclared volume {source!r}"
                used.add(source)
            else:
                assert (ROOT / source).exists(), f"{name} bind-mounts missing path {source}"
    assert {"postgres-db-volume"} <= used
    unused = declared - used
    assert not unused, f"declared but unused volumes: {unused}"


def _header_comment() -> str:
    lines = []
    for line in COMPOSE_FILE.read_text().splitlines():
        if line.startswith("#"):
            lines.append(line)
        elif line.strip() in ("", "---"):
            continue
        else:
            break
    return "\n".join(lines)


def test_every_substituted_variable_has_a_default_and_is_documented(compose):
    text = COMPOSE_FILE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    body = body.replace("$$", "")
    header = _header_comment()
    env_example = ENV_EXAMPLE.read_text()
    found = VAR_RE.findall(body)
    assert found, "expected ${VAR:-default} substitutions"
    bare = re.findall(r"\$(?!\{)([A-Za-z_][A-Za-z0-9_]*)", body)
    assert not bare, f"unbraced $VAR in compose file (use ${{VAR:-default}} or $$ to escape): {bare}"
    for name, op, _arg in found:
        documented = re.search(rf"^#\s+{name}\b", header, re.M) is not None
        assert op in (":-", "-") or documented, f"${{{name}}} has neither a default nor documentation"
        assert documented, f"${{{name}}} is not documented in the compose file's header"
        if name != "AIRFLOW_IMAGE_NAME":
            assert re.search(rf"^#?\s*{name}=", env_example, re.M), f"{name} missing from docker/env.example"
    # Sources are real config read from .env, not commented-out placeholders.
    env = env_of(compose["services"]["airflow-worker"])
    for conn in ("SPM_DAPODIK", "SPM_DUKCAPIL", "SPM_SATUSEHAT"):
        assert env[f"AIRFLOW_CONN_{conn}"] == f"${{AIRFLOW_CONN_{conn}:-}}"


def test_shell_scripts_parse():
    scripts = sorted(DOCKER_DIR.rglob("*.sh"))
    assert AIRFLOW_INIT in scripts and (PG_INIT_DIR / "10-create-databases.sh") in scripts
    for script in scripts:
        res = run(["bash", "-n", str(script)])
        assert res.returncode == 0, f"bash -n {script.name}: {res.stderr}"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")


# --------------------------------------------------------------------------- the init service


def test_init_service_runs_the_init_script(services):
    init = services["airflow-init"]
    project = dockerfile_env()["SPM_PROJECT_DIR"]
    assert init.get("entrypoint") in ("/bin/bash", ["/bin/bash"], "bash")
    cmd = command_list(init["command"])
    assert cmd == [f"{project}/docker/airflow-init.sh"]
    assert (ROOT / cmd[0].removeprefix(project + "/")).resolve() == AIRFLOW_INIT
    assert os.access(AIRFLOW_INIT, os.X_OK)
    env = env_of(init)
    # Every secret file the components read with *_CMD is on a volume shared with airflow-init.
    for name in AIRFLOW_COMMANDS:
        svc_env = env_of(services[name])
        mounts = {v.split(":")[1] for v in services[name]["volumes"]}
        for key, value in svc_env.items():
            if key.endswith("_CMD"):
                path = shlex.split(value)[-1]
                assert any(path.startswith(m + "/") for m in mounts), f"{name}: {path} not on a volume"
                assert path.startswith(env["SPM_SECRETS_DIR"] + "/")
                assert set(services[name]["volumes"]) == set(init["volumes"])


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def test_init_script_end_to_end_with_stubbed_airflow(tmp_path, services):
    """Both phases of docker/airflow-init.sh, with `airflow`, `spm` and the image entrypoint stubbed."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "calls.log"
    # The image's /entrypoint: runs `bash script --phase2` after its own checks.
    _stub(stubs / "entrypoint", f'echo "entrypoint $*" >> {calls}\nshift\nexec bash "$@"\n')
    _stub(stubs / "airflow", textwrap.dedent(f"""\
        echo "airflow $*" >> {calls}
        # every airflow process reads the secrets through *_CMD: they must exist by now
        test -s "$SPM_SECRETS_DIR/fernet_key" && test -s "$SPM_SECRETS_DIR/jwt_secret" || exit 97
        if [ "$1 $2" = "variables get" ]; then exit 1; fi
        if [ "$1" = "version" ]; then echo {AIRFLOW_VERSION}; fi
        exit 0
        """))
    _stub(stubs / "spm", f'echo "spm $*" >> {calls}\n')
    python_dir = tmp_path / "py"
    python_dir.mkdir()
    (python_dir / "python").symlink_to(sys.executable)

    compose_env = {k: expand_defaults(v) for k, v in env_of(services["airflow-init"]).items()}
    secrets_dir = tmp_path / "secrets"
    env = {
        "PATH": f"{stubs}:{python_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SPM_HOME": str(tmp_path / "home"),
        "SPM_SECRETS_DIR": str(secrets_dir),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(secrets_dir / "passwords.json"),
        "SPM_AIRFLOW_ENTRYPOINT": str(stubs / "entrypoint"),
        "SPM_INIT_ADMIN_USERNAME": compose_env["SPM_INIT_ADMIN_USERNAME"],
        "SPM_INIT_ADMIN_PASSWORD": "s3cret pw",
        "SPM_KODE_WILAYAH": '["32.71", "32.01"]',
        "SPM_PSEUDONYM_SECRET": "",
        "SPM_INIT_JWT_SECRET": "",
        "SPM_INIT_FERNET_KEY": "",
    }
    res = run(["bash", str(AIRFLOW_INIT)], env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    log = calls.read_text().splitlines()
    assert log[0] == f"entrypoint bash {AIRFLOW_INIT} --phase2"
    order = [line for line in log if line.startswith(("airflow db migrate", "spm db upgrade", "spm wilayah load"))]
    assert order == ["airflow db migrate", "spm db upgrade", "spm wilayah load"], log
    assert 'airflow variables set spm_kode_wilayah ["32.71", "32.01"]' in log
    assert any(line.startswith("airflow variables set spm_pseudonym_secret ") for line in log)

    from cryptography.fernet import Fernet

    fernet = (secrets_dir / "fernet_key").read_text()
    Fernet(fernet.encode())  # a valid key
    jwt = (secrets_dir / "jwt_secret").read_text()
    assert len(jwt) >= 32
    assert json.loads((secrets_dir / "passwords.json").read_text()) == {"admin": "s3cret pw"}
    assert oct((secrets_dir / "fernet_key").stat().st_mode & 0o777) == "0o640"

    # Second start: secrets kept, .env values win, a bad SPM_KODE_WILAYAH stops the init.
    calls.unlink()
    res = run(["bash", str(AIRFLOW_INIT)], env=dict(env, SPM_INIT_JWT_SECRET="from-dotenv-0123456789"))
    assert res.returncode == 0, res.stderr
    assert (secrets_dir / "fernet_key").read_text() == fernet
    assert (secrets_dir / "jwt_secret").read_text() == "from-dotenv-0123456789"
    res = run(["bash", str(AIRFLOW_INIT)], env=dict(env, SPM_KODE_WILAYAH="32.71"))
    assert res.returncode != 0 and "JSON list" in res.stdout


def test_spm_cli_has_the_commands_init_runs():
    assert SPM_BIN.exists(), f"no spm CLI at {SPM_BIN}"
    script = AIRFLOW_INIT.read_text()
    for cmd in (["db", "upgrade"], ["wilayah", "load"]):
        assert re.search(rf"^\s*spm {' '.join(cmd)}\s*$", script, re.M), f"init does not run spm {' '.join(cmd)}"
        res = run([str(SPM_BIN), *cmd, "--help"], env=clean_env())
        assert res.returncode == 0, res.stderr


# ----------------------------------------------------------------------------------- dashboard


def test_dashboard_service_runs_spm_dashboard_with_existing_options(services):
    svc = services["spm-dashboard"]
    assert command_list(svc["entrypoint"]) == ["spm"], "the dashboard bypasses Airflow's entrypoint"
    cmd = [expand_defaults(c) for c in command_list(svc["command"])]
    assert cmd[0] == "dashboard"
    help_text = run([str(SPM_BIN), "dashboard", "--help"], env=clean_env())
    assert help_text.returncode == 0, help_text.stderr
    for option in (c for c in cmd if c.startswith("--")):
        assert option in help_text.stdout, f"spm dashboard has no {option}"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0", "inside the container it must listen on every interface"
    port = cmd[cmd.index("--port") + 1]
    assert any(str(p).endswith(f":{port}") for p in svc["ports"]), svc["ports"]
    assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert env_of(svc)["AIRFLOW_CONN_SPM_WAREHOUSE"].startswith("postgresql://")  # the warehouse it reads


def test_dashboard_healthcheck_path_answers(services):
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app
    from spm.warehouse.db import get_engine

    test = services["spm-dashboard"]["healthcheck"]["test"]
    url = next(t for t in test if t.startswith("http://localhost:8050/"))
    path = urlsplit(url).path
    engine = get_engine(f"sqlite:///{tempfile.mkdtemp()}/warehouse.db")
    with TestClient(create_app(engine)) as client:
        assert client.get(path).status_code in (200, 503)  # answers (503 = warehouse not migrated yet)
    assert "curl" in test


def test_image_can_render_the_pdf_report():
    runs = " ".join(rest for word, rest in dockerfile_instructions() if word == "RUN")
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0"):
        assert re.search(rf"apt-get install[^&]*\b{re.escape(package)}\b", runs), f"{package} not installed"
    assert "import weasyprint" in runs
