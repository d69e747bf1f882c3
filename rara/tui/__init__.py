"""rara's terminal cockpit: a textual app over the gRPC server (`rara tui`).

The only package that imports textual. `client` speaks gRPC and knows nothing of widgets; the
panes (one per tab) own their rows and post typed messages; `app` owns the client, the one
stream worker and the connection state.
"""
