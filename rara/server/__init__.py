"""The daemon's gRPC server (`rara.v1.RaraService`): reads of the state DB, the event log as a
resumable stream, and the control calls, behind bearer-token auth. An adapter at the edge: only
this package and `rara.tui` import grpc."""
