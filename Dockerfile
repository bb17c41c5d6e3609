# Image for the full deployment (docker-compose.yml): Airflow 3.3 with Scrutin installed from uv.lock
# (the `celery` extra included, for the compose profile `celery`). .dockerignore keeps .env,
# .venv, var/ and .airflow/ out of the build context.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make curl \
    && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/scrutin/
RUN pip install --no-cache-dir uv==0.13.9 \
    && cd /opt/scrutin \
    && uv export --frozen --no-dev --extra celery --no-hashes --no-emit-project -o /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY --chown=airflow:root . /opt/scrutin
RUN pip install --no-cache-dir --no-deps -e /opt/scrutin \
    # The landing volume starts with the bundled sample files and their manifests (a named
    # volume is filled from the image the first time it is mounted). No canvass export: the
    # drop zone starts empty, real exports only.
    && mkdir -p /opt/scrutin/landing/canvass-drop /opt/scrutin/var \
    && for source in elections reu roll census geo; do \
         if [ -d /opt/scrutin/data/sample/$source ]; then \
           cp -r /opt/scrutin/data/sample/$source /opt/scrutin/landing/$source; \
         fi; \
       done \
    # Any AIRFLOW_UID runs with group 0: let the group write where dbt and the loads write.
    && chmod -R g+w /opt/scrutin/dbt /opt/scrutin/landing /opt/scrutin/var
WORKDIR /opt/scrutin
