"""A product's discovery document (`GET /` of its HTTP port) as the platform reads it: the description of
a product that the catalog lists and governance evaluates. It sits below both, so that neither needs
the other to know what a product says about itself."""
