"""Market data: the Parquet catalog read through DuckDB, and the ways candles get into it."""

from rara.data.catalog import Catalog, default_catalog

__all__ = ["Catalog", "default_catalog"]
