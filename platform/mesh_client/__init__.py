"""A consumer's view of the mesh: find a product through the catalog, then read its ports with the
consumer's own API key, as any analyst would. `mesh query`, `mesh consume` and the labs' solves (which
act as the learner) go through it, so they are audited and masked like every other consumer."""

from mesh_client.consumer import ClientError, MeshConsumer, ProductPorts, StreamRecord

__all__ = ["ClientError", "MeshConsumer", "ProductPorts", "StreamRecord"]
