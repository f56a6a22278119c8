# One image for the api, the workers and Flower (docker-compose.yml picks the command).
# Two stages: dependencies are installed into /opt/venv in the first, the second gets only that
# virtualenv and the runtime code (the build context is limited by .dockerignore), owned by
# root and read-only for the non-root user the processes run as.
FROM python:3.11-slim AS dependencies
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent gateway
COPY --from=dependencies /opt/venv /opt/venv
WORKDIR /app
COPY . .
# Bytecode compiled at build time: the code directory is not writable at run time.
RUN python -m compileall -q /app
USER 10001:10001
EXPOSE 8000 5555
CMD ["uvicorn", "api.app:app", "--host", "0.0.0.0", "--port", "8000", "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
