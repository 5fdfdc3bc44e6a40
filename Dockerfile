# The mesh's Python side (products, CLI, traffic generator) as an image, for docker-compose.
# The embedded stack's JVM servers are not in it: compose runs them as their own containers.
FROM python:3.11-slim
WORKDIR /mesh
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY products ./products
COPY schemas ./schemas
COPY governance ./governance
RUN pip install --no-cache-dir -e .
# Inside a container the servers listen on every interface of the container's own network;
# compose publishes them on the host's 127.0.0.1 only.
ENV MESH_HOST=0.0.0.0
ENTRYPOINT ["mesh"]
