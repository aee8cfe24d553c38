# tongban: one image for every Airflow component (api-server, scheduler, dag-processor, triggerer,
# celery worker), the init job, `tongban api serve` and the sandbox peers.
#
#   docker build -t tongban:latest .                      # on the official Airflow image
#   docker build --build-arg AIRFLOW_IMAGE=... .          # on another base with the same layout
#
# The base must provide what the official image does: Debian bookworm, Python 3.11 with venv,
# the `airflow` user (uid 50000, gid 0), AIRFLOW_HOME=/opt/airflow, curl, dumb-init. tongban and
# its pinned dependencies (Airflow included) go into a venv of their own from requirements.lock,
# so the image runs exactly the locked versions whatever the base had installed.
# BuildKit (DOCKER_BUILDKIT=1, the default since Docker 23): `--secret id=ca,src=FILE` hands a CA
# bundle to pip and uv when the package index is behind a TLS-inspecting proxy (optional).
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER root
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
# softhsm2: the PKCS#11 token for seal keys (a real HSM module can be mounted instead);
# fonts-wqy-zenhei: the CJK font of the license face
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends softhsm2 fonts-wqy-zenhei ca-certificates curl dumb-init \
 && rm -rf /var/lib/apt/lists/*

ARG UV_VERSION=0.13.8
ENV TONGBAN_VENV=/opt/tongban/venv UV_LINK_MODE=copy
COPY requirements.lock /opt/tongban/requirements.lock
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/uv \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca PIP_CERT=/run/secrets/ca; fi; \
    python3.11 -m venv "$TONGBAN_VENV"; \
    PIP_USER=false "$TONGBAN_VENV/bin/python" -m pip install -q --no-cache-dir "uv==$UV_VERSION"; \
    VIRTUAL_ENV="$TONGBAN_VENV" "$TONGBAN_VENV/bin/uv" pip sync -q --compile-bytecode \
        --python "$TONGBAN_VENV/bin/python" /opt/tongban/requirements.lock

# the project itself (no dependencies: the lock has them all); DAGs come from the installed dags/
COPY . /opt/tongban/src
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/uv \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    VIRTUAL_ENV="$TONGBAN_VENV" "$TONGBAN_VENV/bin/uv" pip install -q --no-deps --compile-bytecode \
        --python "$TONGBAN_VENV/bin/python" /opt/tongban/src; \
    install -d -m 0755 /opt/tongban/bin; \
    install -m 0755 /opt/tongban/src/docker/entrypoint.sh /opt/tongban/src/docker/airflow-init.sh /opt/tongban/bin/; \
    install -m 0644 /opt/tongban/src/docker/bootstrap.py /opt/tongban/src/docker/sandbox_world.py /opt/tongban/bin/; \
    install -m 0644 /opt/tongban/src/docker/softhsm2.conf /opt/tongban/softhsm2.conf; \
    rm -rf /opt/tongban/src; \
    install -d -o 50000 -g 0 -m 0770 /opt/tongban/var /opt/tongban/sandbox /var/lib/tongban/softhsm /opt/airflow/logs /opt/airflow/config; \
    "$TONGBAN_VENV/bin/python" -c "import dags, pathlib; print(pathlib.Path(dags.__file__).parent)" > /opt/tongban/dags-folder

ENV PATH=/opt/tongban/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/tongban/venv \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/tongban/venv/lib/python3.11/site-packages/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    SOFTHSM2_CONF=/opt/tongban/softhsm2.conf \
    TONGBAN_DATA_DIR=/opt/tongban/var

USER 50000
WORKDIR /opt/airflow
EXPOSE 8080 8700
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/tongban/bin/entrypoint.sh"]
CMD ["tongban", "--help"]
