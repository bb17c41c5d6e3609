# Image for the full deployment (docker-compose.yml): Airflow 3.3 with Scrutin installed from uv.lock.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/scrutin/
RUN pip install --no-cache-dir uv==0.13.9 \
    && cd /opt/scrutin \
    && uv export --frozen --no-dev --no-hashes --no-emit-project -o /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY --chown=airflow:root . /opt/scrutin
RUN pip install --no-cache-dir --no-deps -e /opt/scrutin
WORKDIR /opt/scrutin
