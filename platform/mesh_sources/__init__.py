"""The operational source systems the mesh captures with CDC: the legacy monolith and the content DB."""
