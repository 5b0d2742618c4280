# Brygga as a service: `brygga serve` on port 8000, as an unprivileged user.
# The project (brygga.yaml and mappings/) is mounted at /project; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY connectors ./connectors
RUN pip install . \
    && useradd --create-home --uid 10001 brygga \
    && mkdir /project && chown brygga /project

USER brygga
WORKDIR /project
ENV BRYGGA_CONFIG=/project/brygga.yaml
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"

# Listening on every address needs api.tokens in brygga.yaml: serve refuses to start without them.
CMD ["brygga", "serve", "--host", "0.0.0.0", "--port", "8000"]
