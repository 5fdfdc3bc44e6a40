"""`mesh`: the command-line tool of the mesh."""
