"""The strategy registry beyond this home: a static, signed index any web server or folder can
host, and the client that fetches from it. Nothing fetched is trusted until it has passed the
same checks as a strategy rara wrote itself.

- `index`: the index's typed model (``index.json``) and its caps and safe names;
- `keys`: Ed25519 signing keys and the trust store (``$RARA_HOME/trust/``);
- `transport`: reading http(s), ``file://`` or a folder, size-capped, with timeouts;
- `client`: an index opened only if signed by a trusted key, unexpired and not rolled back;
- `vet`: lint, sandbox and gate 1 on this home's data;
- `install`: fetch, install at a stage, ``strategies.lock``, remove;
- `lock`: the lock file and re-hashing installed files against it;
- `publish`: writing and signing the static tree.

Typical use::

    from rara.registry.remote.install import FetchRequest, fetch
    fetch(home, FetchRequest.parse("sma_crossover@1.0.0", "https://registry.example/"))
"""
