"""The offline sandbox: a synthetic Cargo workspace served from memory and an embedded ClickHouse (chdb)."""
