# One image for every Lantian service; the command picks the service (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY analytics analytics
COPY alerts alerts
COPY api api
COPY config config
COPY simulators simulators
COPY lantian lantian
RUN pip install --no-cache-dir .
ENTRYPOINT ["lantian"]
CMD ["api"]
