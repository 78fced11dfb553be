# syntax=docker/dockerfile:1
# Build:  docker build -t statusadmin .
# Run:    see the README ("Deploying with Docker").

FROM python:3.13-slim AS build
WORKDIR /src
COPY requirements.lock ./
COPY docker/install.sh docker/
RUN sh docker/install.sh /venv
COPY manage.py ./
COPY statusadmin statusadmin
COPY templates templates
COPY static static
# Compressed, content-hashed static files for whitenoise. The secret only satisfies the
# production settings for this step; it is never used to sign anything.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost \
    STATUSADMIN_DATA_DIR=/tmp/data /venv/bin/python manage.py collectstatic --noinput

FROM python:3.13-slim
ENV PATH="/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_DEBUG=0 \
    PORT=8000 \
    STATUSADMIN_DATA_DIR=/data
RUN useradd --system --uid 10001 --no-create-home --home-dir /app statusadmin \
    && mkdir /data && chown 10001:10001 /data
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build --chown=10001:10001 /src/staticfiles staticfiles
COPY --chown=10001:10001 manage.py gunicorn.conf.py ./
COPY --chown=10001:10001 docker docker
COPY --chown=10001:10001 statusadmin statusadmin
COPY --chown=10001:10001 templates templates
COPY --chown=10001:10001 static static
USER 10001
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["serve"]
