# One image for every smartcity service (ingest, sim, analytics, dashboard).
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 smartcity
WORKDIR /app
COPY pyproject.toml README.md ./
COPY smartcity smartcity
COPY ingest ingest
COPY twin twin
COPY analytics analytics
COPY dashboard dashboard
COPY sensors_sim sensors_sim
COPY sql sql
RUN pip install --no-cache-dir -e .
USER smartcity
EXPOSE 8050
CMD ["smartcity", "--help"]
