"""The container sandbox: one locked-down Docker container per evaluation.

`runner.ContainerRunner` drives the engine, `config` says what a container is asked for and what
comes back, `io` carries the bytes over the attached stream, and `image` builds the sandbox image.
The rest of rara reaches containers through the port, `rara.runner.sandbox` (only the
`rara sandbox build-image` command imports `image` directly).
"""
