"""Faults as Chaos Toolkit experiments: what each breaks (`experiments`), the actions and probes it runs
against the mesh (`activities`, `network`), the evidence gathered (`evidence`), and the runner that turns
a journal into a verdict (`runner`)."""
