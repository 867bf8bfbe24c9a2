# syntax=docker/dockerfile:1
# The stacql service image: `stacql serve` by default; `stacql worker` and
# `stacql db upgrade` run from the same image (see compose.yaml).
#
# Two stages: `build` turns pyproject.toml into wheels (network, pip cache), `runtime`
# installs those wheels into a clean python:3.11-slim and keeps nothing else. The
# dependency wheels and the stacql wheel are built and installed in separate steps, so
# editing code reinstalls one wheel and leaves the dependency layer cached. Needs
# BuildKit (the default builder of Docker 23+ and of `docker compose`).

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# The catalog browser (/browse): built from browser/ with the locked npm packages.
FROM ${NODE_IMAGE} AS browser
WORKDIR /browser
COPY browser/package.json browser/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY browser/ ./
RUN npm run build

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# 1. Dependencies, from pyproject.toml alone: this layer only changes with the dependency list.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); print('\n'.join(p['project']['dependencies']))" > requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels/deps --requirement requirements.txt

# 2. The project itself (the build context holds only what packaging needs: .dockerignore),
# with the browser built above: the wheel carries it (build_browser.py).
COPY . .
COPY --from=browser /browser/dist browser/dist
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels/app .


FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="stacql" \
      org.opencontainers.image.description="STAC API + GraphQL catalog service on PostGIS"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_NO_CACHE_DIR=1

# A fixed, non-root uid owns the asset folder; a named volume mounted there on first use
# copies this ownership, so the service can write uploads without running as root.
RUN groupadd --system --gid 10001 stacql \
    && useradd --system --uid 10001 --gid stacql --create-home --home-dir /home/stacql \
       --shell /usr/sbin/nologin stacql \
    && install --directory --owner stacql --group stacql /data/assets

# Wheels are bind-mounted from the build stage, never copied into a layer. The
# dependencies ship manylinux wheels with their C libraries inside (libpq, GEOS, PROJ),
# so the runtime needs no apt packages; a new dependency without such a wheel would need
# its build tools in the build stage and its shared libraries here.
RUN --mount=type=bind,from=build,source=/wheels/deps,target=/wheels/deps \
    pip install --no-index /wheels/deps/*.whl
RUN --mount=type=bind,from=build,source=/wheels/app,target=/wheels/app \
    pip install --no-index --no-deps /wheels/app/*.whl \
    && pip check

# Defaults for one container; the database and Redis URLs come from the deployment
# (compose.yaml) because they carry host names and credentials. Names follow
# stacql/settings.py: STACQL_<GROUP>_<FIELD>.
ENV STACQL_API_HOST=0.0.0.0 \
    STACQL_API_PORT=8080 \
    STACQL_STORAGE_URL=/data/assets

USER stacql
WORKDIR /home/stacql
EXPOSE 8080

# Any HTTP answer below 400 from the landing page is healthy; urlopen raises on 4xx/5xx and
# on connection errors, and an uncaught exception exits with status 1. The port matches CMD.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/', timeout=4).close()"]

ENTRYPOINT ["stacql"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
