"""The subprocess jail: a warm zygote forks one confined child per evaluation.

`runner.JailedRunner` (host side, owns the zygote), `jailed_run.JailedRun` (one child's pipes and
verdict), `zygote` (the forking process), `confine` (namespaces, rlimits, uid drop, PDEATHSIG)
with `seccomp` and `landlock`. Nothing is imported here: the zygote imports this package, and it
must load only what the child needs. The rest of rara reaches the jail through the port,
`rara.runner.sandbox`.
"""
