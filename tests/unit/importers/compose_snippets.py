"""Small Compose projects the converter tests import, each a few files.

Every one is valid Compose: tests/integration/compose/test_compose_files_valid.py runs
`docker-compose config` on each, so the converter is tested on what Compose accepts.
(docker-compose here is v1: syntax only v2 accepts, such as `${VAR:+alt}` or a long-form
port's `host_ip`, is tested inline in the unit tests instead.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

APP_DIR = {"app/app.py": "print('hello')\n"}

SNIPPETS: dict[str, dict[str, str]] = {
    # ports: every short form, a range, the long form, expose, udp
    "ports": {
        "compose.yaml": """\
services:
  web:
    build: ./app
    command: python app.py
    ports:
      - "8000:8000"
      - "127.0.0.1:9000:9001"
      - "[::1]:9100:9101"
      - "7000-7002:7000-7002"
      - "9200"
      - 9300
      - "5353:5353/udp"
      - target: 8443
        published: "18443"
        protocol: tcp
    expose: ["3000", 3001]
""",
        **APP_DIR,
    },
    # environment as a map, as a list, from env_file (environment wins), pass-through
    "environment": {
        "compose.yaml": """\
services:
  a:
    build: ./app
    command: python app.py
    env_file: [base.env, local.env]
    environment:
      FROM_MAP: "1"
      OVERRIDDEN: by-environment
      RETRIES: 3
      PASSED_THROUGH:
  b:
    build: ./app
    command: python app.py
    environment:
      - LIST_FORM=yes
      - EQUALS=a=b
      - BARE
""",
        "base.env": "OVERRIDDEN=by-file\nFROM_FILE=base\n# a comment\nexport EXPORTED=1\n",
        "local.env": 'FROM_FILE=local\nQUOTED="two words"  # comment\n',
        **APP_DIR,
    },
    # ${VAR} interpolation from .env and the shell; defaults; $$
    "interpolation": {
        "compose.yaml": """\
services:
  web:
    image: "nginx:${NGINX_TAG:-1.27}"
    environment:
      FROM_DOTENV: ${GREETING}
      BRACELESS: $GREETING
      DEFAULTED: ${MISSING:-fallback}
      DASH_DEFAULT: ${EMPTY-kept-empty}
      COLON_DEFAULT: ${EMPTY:-was-empty}
      LITERAL: "$$HOME and $${NOT_A_VAR}"
      UNSET: ${NOWHERE}
      NESTED: ${MISSING:-${GREETING}}
      SHELL_WINS: ${SHELL_ONLY}
""",
        ".env": "GREETING=hello\nEMPTY=\nSHELL_ONLY=from-dotenv\n",
    },
    # depends_on as a list and as a map with each condition; links
    "depends": {
        "compose.yaml": """\
services:
  migrate:
    build: ./app
    command: python app.py
  db:
    image: postgres:15
  cache:
    image: redis:7
  web:
    build: ./app
    command: python app.py
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
      migrate:
        condition: service_completed_successfully
  worker:
    build: ./app
    command: python app.py
    depends_on: [db, cache]
    links: ["web:frontend"]
""",
        **APP_DIR,
    },
    # healthchecks: curl, wget, CMD-SHELL, nc, other commands, NONE, engines' timings
    "healthchecks": {
        "compose.yaml": """\
services:
  curl:
    build: ./app
    command: python app.py --port 8000
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/healthz"]
      interval: 5s
      timeout: 3s
      retries: 10
      start_period: 10s
  wget:
    build: ./app
    command: python app.py
    expose: ["8080", "9000"]
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:8080/status?full=1 || exit 1"]
  shell:
    build: ./app
    command: python app.py
    ports: ["7000:7000"]
    healthcheck:
      test: curl -fsS http://localhost:7000/ping
  tcp:
    build: ./app
    command: python app.py
    healthcheck:
      test: ["CMD", "nc", "-z", "localhost", "6000"]
  custom:
    build: ./app
    command: python app.py
    ports: ["5000:5000"]
    healthcheck:
      test: ["CMD", "python", "check.py", "--url", "localhost:5000"]
  none:
    build: ./app
    command: python app.py
    healthcheck:
      test: ["NONE"]
  db:
    image: postgres:15
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 2s
      retries: 20
""",
        **APP_DIR,
    },
    # volumes: named, bind, long forms, init SQL into postgres, data volumes
    "volumes": {
        "compose.yaml": """\
services:
  db:
    image: postgres:15-alpine
    volumes:
      - pgdata:/var/lib/postgresql/data
      - ./db/schema.sql:/docker-entrypoint-initdb.d/01-schema.sql:ro
      - type: bind
        source: ./conf/postgresql.conf
        target: /etc/postgresql/postgresql.conf
  web:
    build: ./app
    command: python app.py
    volumes:
      - ./app:/srv/app
      - type: volume
        source: uploads
        target: /srv/uploads
      - /tmp/cache
volumes:
  pgdata:
  uploads:
""",
        "db/schema.sql": "CREATE TABLE t (id int);\n",
        "conf/postgresql.conf": "max_connections = 10\n",
        **APP_DIR,
    },
    # engines: images, versions, credentials and passwords
    "engines": {
        "compose.yaml": """\
services:
  pg:
    image: postgres:16.2-alpine3.19
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: pg-literal-Secret-1
      POSTGRES_DB: orders
      PGDATA: /var/lib/postgresql/data/pgdata
      POSTGRES_INITDB_ARGS: --data-checksums
  bitnami-pg:
    image: docker.io/bitnami/postgresql:15
    environment:
      POSTGRESQL_USERNAME: app
      POSTGRESQL_PASSWORD: bitnami-Secret-2
      POSTGRESQL_DATABASE: app
  redis:
    image: library/redis:7.2.4-bookworm
    command: redis-server --requirepass redis-Secret-3 --appendonly yes --maxmemory 64mb
  bitnami-redis:
    image: bitnami/redis:7.0
    environment:
      REDIS_PASSWORD: bitnami-redis-Secret-4
  latest:
    image: redis
  not-an-engine:
    image: postgis/postgis:16-3.4
""",
    },
    # references to other services in env values
    "references": {
        "compose.yaml": """\
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ref-db-Secret-5
      POSTGRES_DB: app
  cache:
    image: redis:7
  api:
    build: ./app
    command: python app.py --port 8080
    ports: ["8080:8080"]
  web:
    build: ./app
    command: python app.py
    environment:
      WHOLE_PG: postgres://app:ref-db-Secret-5@db:5432/app
      WHOLE_PG_QUERY: postgresql://app:ref-db-Secret-5@db:5432/app?sslmode=disable
      OTHER_DB: postgresql://app:ref-db-Secret-5@db:5432/analytics
      DRIVER_URL: postgresql+psycopg://app:ref-db-Secret-5@db/app
      WHOLE_REDIS: redis://cache:6379/0
      REDIS_DB_2: redis://cache:6379/2
      API_URL: http://api:8080
      API_PATH: http://api:8080/v1/orders?limit=5
      HOST_PORT: db:5432
      BROKERS: cache:6379,api:8080
      DB_HOST: db
      DB_PORT: "5432"
      PGHOST: db
      PGPORT: "5432"
      DB_PASSWORD: ref-db-Secret-5
      ROLE: api
      UNRELATED_URL: https://example.com/db:5432
""",
        **APP_DIR,
    },
    # the app's own port: PORT variable, command flags, 0.0.0.0
    "own_port": {
        "compose.yaml": """\
services:
  env-port:
    build: ./app
    command: python app.py
    ports: ["8000:8000"]
    environment:
      PORT: "8000"
  flag-port:
    build: ./app
    command: ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "9000"]
    expose: ["9000"]
  bind-port:
    build: ./app
    command: gunicorn -b 0.0.0.0:5000 app:app
    ports: ["5000"]
  fixed-port:
    build: ./app
    command: python app.py
    ports: ["7000:7000"]
""",
        **APP_DIR,
    },
    # commands: from Compose (string, list, entrypoint) and from a Dockerfile
    "commands": {
        "compose.yaml": """\
services:
  string:
    build: ./app
    command: python app.py --name "two words"
  listed:
    build: ./app
    entrypoint: ["python", "-m"]
    command: ["http.server", "8000"]
  dockerfile:
    build:
      context: ./app
      dockerfile: Dockerfile.web
  image-only:
    image: nginx:1.27
  mounted-workdir:
    image: node:20
    working_dir: /usr/src/app
    volumes: ["./app:/usr/src/app"]
    command: node server.js
""",
        "app/Dockerfile.web": (
            'FROM python:3.11 AS build\nCMD ["python", "build.py"]\n'
            "FROM python:3.11-slim\nWORKDIR /srv\n"
            "CMD python web.py \\\n    --workers 2\n"
        ),
        **APP_DIR,
    },
    # everything a blueprint does not carry
    "unsupported": {
        "compose.yaml": """\
x-common: &common
  restart: always
  labels: {team: shop}
services:
  web:
    <<: *common
    build: ./app
    command: python app.py
    container_name: shop-web
    privileged: true
    cap_add: [NET_ADMIN]
    user: "1000:1000"
    networks: [front]
    secrets: [api_key]
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.25", memory: 512M}
        reservations: {memory: 128M}
    stop_signal: SIGINT
    x-owner: shop-team
  admin:
    image: adminer:4
    profiles: [debug]
networks:
  front: {}
secrets:
  api_key:
    file: ./api_key.txt
""",
        "api_key.txt": "not-a-real-key\n",
        **APP_DIR,
    },
}


def write(name: str, directory: Path) -> Path:
    """Write snippet ``name`` into ``directory``; return its compose.yaml."""
    for rel, text in SNIPPETS[name].items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory / "compose.yaml"


def imported(directory: Path, environ: dict[str, str] | None = None, **options: Any) -> Any:
    """Run the import use case on ``directory``'s compose.yaml, printing nothing: the
    ImportResult (blueprint dict, notes, YAML text), validated by the real loader."""
    from orchestrator.importers.compose_import import import_compose

    return import_compose(
        str(directory / "compose.yaml"),
        out=options.pop("out", "-"),
        name=options.pop("name", None),
        force=options.pop("force", False),
        environ=environ or {},
        cwd=directory,
    )


def notes_of(result: Any) -> dict[str, str]:
    """Note key path → message."""
    return {n.key: n.message for n in result.notes}


def compose(directory: Path, text: str, **files: str) -> Path:
    """Write an inline Compose file (and other files, by relative path) into ``directory``."""
    (directory / "compose.yaml").write_text(text, encoding="utf-8")
    for rel, content in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return directory / "compose.yaml"
