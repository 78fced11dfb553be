# syntax=docker/dockerfile:1
# Build: docker build -t statusadmin .
FROM python:3.13-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /venv
COPY pyproject.toml README.md ./
COPY statusadmin ./statusadmin
RUN /venv/bin/pip install .

FROM python:3.13-slim
ENV PATH="/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_DEBUG=0
RUN useradd --system --uid 10001 --home-dir /app statusadmin
WORKDIR /app
COPY --from=build /venv /venv
COPY --chown=statusadmin:statusadmin manage.py ./
COPY --chown=statusadmin:statusadmin statusadmin ./statusadmin
COPY --chown=statusadmin:statusadmin templates ./templates
COPY --chown=statusadmin:statusadmin static ./static
USER 10001
EXPOSE 8000
CMD ["gunicorn", "statusadmin.wsgi", "--bind", "0.0.0.0:8000"]
