"""Market data: the Parquet catalog read through DuckDB (`rara.data.catalog`), and the ways
candles get into it (`fetch`, `importers`, `synth`).

Nothing is imported here: the catalog pulls in DuckDB and pyarrow, which `rara.data.synth` or
`rara.data.quality` users should not pay for."""
