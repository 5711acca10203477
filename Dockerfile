# The ChatDB image: every service, the worker and the `chatdb` command (deploy/k8s runs
# `chatdb serve <service>` / `chatdb worker` from it; Envoy runs from the official image).
#
#   docker build -t chatdb:0.1.0 .
#
# The source tree is installed editable on purpose: processes find gen/'s descriptor set
# and the migrations next to the code (servers/services.py, */app.py), as in a checkout.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHATDB_HOME=/var/lib/chatdb \
    CHATDB_HOST=0.0.0.0

WORKDIR /opt/chatdb
# Dependencies first, so a code change does not re-install them.
COPY pyproject.toml README.md ./
RUN mkdir -p servers workers deploy gateway edge gen \
 && pip install --upgrade pip setuptools wheel \
 && pip install -e . \
 && pip uninstall -y chatdb
COPY . .
RUN pip install --no-deps -e . \
 # Bytecode now: the pods' root filesystem is read-only.
 && python -m compileall -q servers workers gateway edge deploy gen \
 && python -c "import servers.services, gateway.app, workers.main" \
 && groupadd --gid 10001 chatdb && useradd --uid 10001 --gid 10001 --no-create-home chatdb \
 && mkdir -p /var/lib/chatdb && chown chatdb:chatdb /var/lib/chatdb

USER 10001:10001
# gRPC ports (ARCHITECTURE.md): gateway 8080 (+ authz 8086), training 8000, registry 8081,
# parser 8082, worker health 8083, connector 8084, prediction 8085; plaintext health 8090.
EXPOSE 8000 8080 8081 8082 8083 8084 8085 8086 8090
ENTRYPOINT ["chatdb"]
CMD ["--help"]
