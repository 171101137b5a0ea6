"""What the guard refuses, by name: statements, table functions and scalar functions (docs/cargo-contract.md §7.2).

Function names are compared normalized (lower case, no underscores), so ``dictGet``, ``DICTGET`` and
``dict_get`` are one name.
"""

from __future__ import annotations

from cargo_mcp.api.sql import TABLES, table_list

KNOWN_TABLES = frozenset(TABLES)

# ClickHouse's virtual columns: they name the server's databases, parts and disks.
VIRTUAL_COLUMNS = frozenset(
    {
        "_database", "_table", "_part", "_part_index", "_part_uuid", "_partition_id", "_partition_value",
        "_sample_factor", "_part_offset", "_part_granule_offset", "_row_exists", "_block_number", "_block_offset",
        "_disk_name", "_shard_num", "_path", "_file", "_size", "_time", "_etag", "_data_version",
        "_part_data_version", "_part_starting_offset", "_distance",
    }
)  # fmt: skip

READ_STATEMENTS = frozenset({"SELECT", "WITH"})

# First keyword of a statement → why it is refused and what to do instead.
_WRITE = f"Cargo's SQL is read-only: {{kw}} statements are refused. Instead, SELECT from {table_list()}"
_ADMIN = "{kw} statements change server or session state and are refused. Instead, send one SELECT; the caps are fixed"
_INTRO = "{kw} statements are not available on Cargo. Instead, read the resource cargo://sql/schema (tables, columns)"
# fmt: off
STATEMENTS: dict[str, str] = {
    **{
        kw: _WRITE
        for kw in (
            "INSERT", "UPDATE", "DELETE", "ALTER", "DROP", "CREATE", "TRUNCATE", "RENAME", "OPTIMIZE", "ATTACH",
            "DETACH", "EXCHANGE", "UNDROP", "REPLACE", "MOVE", "BACKUP", "RESTORE", "MERGE", "UPSERT", "COPY",
        )
    },
    **{
        kw: _ADMIN
        for kw in (
            "SYSTEM", "KILL", "SET", "GRANT", "REVOKE", "USE", "CHECK", "WATCH", "BEGIN", "COMMIT", "ROLLBACK",
            "EXECUTE", "CALL", "LOCK", "UNLOCK", "START", "CACHE", "UNCACHE", "PRAGMA", "VACUUM",
        )
    },
    **{kw: _INTRO for kw in ("EXPLAIN", "SHOW", "DESCRIBE", "DESC", "EXISTS", "ANALYZE")},
}
# fmt: on


def normalized(name: str) -> str:
    """The comparison form of a function name."""
    return name.lower().replace("_", "")


# fmt: off
# Table functions (ClickHouse docs "Table Functions"); Cargo denies all of them.
TABLE_FUNCTIONS = frozenset(
    normalized(n)
    for n in (
        "azureBlobStorage", "azureBlobStorageCluster", "cluster", "clusterAllReplicas", "deltaLake",
        "deltaLakeCluster", "dictionary", "executable", "file", "fileCluster", "format", "fuzzJSON", "fuzzQuery",
        "gcs", "generateRandom", "generate_series", "generateSeries", "hdfs", "hdfsCluster", "hudi", "hudiCluster",
        "iceberg", "icebergS3", "icebergAzure", "icebergHDFS", "icebergLocal", "icebergCluster", "input", "jdbc",
        "loop", "merge", "mergeTreeIndex", "mergeTreeAnalyzeIndexes", "mergeTreeProjection", "mongodb", "mysql",
        "null", "numbers", "numbers_mt", "odbc", "paimon", "postgresql", "prometheusQuery", "redis", "remote",
        "remoteSecure", "s3", "s3Cluster", "sqlite", "timeSeriesData", "timeSeriesMetrics", "timeSeriesTags",
        "url", "urlCluster", "values", "view", "viewExplain", "viewIfPermitted", "zeros", "zeros_mt", "arrowFlight",
        "ytsaurus", "python", "oss", "cosn", "primes", "filesystem", "eval", "paimonS3", "paimonAzure",
        "paimonHDFS", "paimonLocal", "deltaLakeS3", "deltaLakeAzure", "deltaLakeLocal", "hudiS3", "icebergS3Cluster",
        "icebergAzureCluster", "icebergHDFSCluster", "s3Queue", "azureQueue", "kafka", "nats", "rabbitmq",
    )
)

# Names that are table functions but also ordinary scalar functions (allowed outside FROM).
SCALAR_TWINS = frozenset({normalized("format")})

# Scalar functions that reach past the four tables: dictionaries, introspection, the server and its files.
# normalized name → (ClickHouse spelling, family)
DENIED_FUNCTIONS: dict[str, tuple[str, str]] = {
    **{
        normalized(n): (n, "dictionary functions")
        for n in (
            "dictGet", "dictGetOrDefault", "dictGetOrNull", "dictGetAll", "dictHas", "dictIsIn", "dictGetHierarchy",
            "dictGetChildren", "dictGetDescendants", "dictGetString", "dictGetInt64", "dictGetUInt64",
            "dictGetFloat64", "dictGetDate", "dictGetDateTime", "dictGetUUID", "joinGet", "joinGetOrNull",
        )
    },
    **{
        normalized(n): (n, "introspection functions")
        for n in (
            "addressToLine", "addressToLineWithInlines", "addressToSymbol", "demangle", "currentDatabase",
            "currentSchemas", "currentUser", "currentProfiles", "currentRoles", "enabledProfiles", "enabledRoles",
            "defaultProfiles", "defaultRoles", "hasColumnInTable", "getSetting", "getSettingOrDefault",
            "getServerPort", "getServerSetting", "getMergeTreeSetting", "tcpPort", "getMacro", "getOSKernelVersion",
            "hostName", "fqdn", "serverUUID", "shardNum", "shardCount", "uptime", "buildId", "displayName",
            "getClientHTTPHeader", "globalVariable", "zookeeperSessionUptime", "filesystemAvailable",
            "filesystemCapacity", "filesystemUnreserved", "transactionID", "transactionLatestSnapshot",
            "transactionOldestSnapshot", "user", "database", "schema", "fullHostName", "tid", "logTrace",
            "queryID", "initialQueryID", "currentQueryID", "initialQueryStartTime", "session_user", "authUser",
            "authenticatedUser", "pg_get_userbyid", "pgGetUserById", "version", "currentVersion", "revision",
            "serverTimeZone", "serverTimezone", "connectionId", "connection_id", "currentRequestURL",
            "currentHandler", "showCertificate", "isRemote",
        )
    },
    **{
        normalized(n): (n, "server-side functions")
        for n in (
            "file", "sleep", "sleepEachRow", "catboostEvaluate", "evalMLMethod", "modelEvaluate", "generateSerialID",
            "executable", "trap",
        )
    },
}

# Name prefixes of denied families (compared on the lower-cased written name, underscores kept) → family.
DENIED_PREFIXES: dict[str, str] = {
    "dict": "dictionary functions",  # dictGet*, dictHas, dictIsIn, typed getters
    "joinget": "dictionary functions",
    "addressto": "introspection functions",
    "filesystem": "server-side functions",
    "getserver": "introspection functions",
    "getsetting": "introspection functions",
    "getmergetreesetting": "introspection functions",
    "__": "internal functions",
    "region": "dictionary functions",  # embedded geo dictionaries
    "ai": "server-side functions",  # aiGenerate, aiClassify, …: outbound model calls
}

# ``x IN t`` written as a function call: the second argument may name a table.
IN_FUNCTIONS = frozenset(
    normalized(n)
    for n in (
        "in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn", "globalNotNullIn",
        "inIgnoreSet", "notInIgnoreSet", "globalInIgnoreSet", "globalNotInIgnoreSet", "nullInIgnoreSet",
        "notNullInIgnoreSet", "globalNullInIgnoreSet", "globalNotNullInIgnoreSet",
    )
)

# Functions that build a big value in memory from a number → the position of the argument that sizes it (elements,
# bytes or slots): refused unless that size is provably at most GENERATOR_MAX. range(), timeSlots(),
# mapPopulateSeries() and h3kRing() are sized from several arguments or a formula (the position is not used).
GENERATORS: dict[str, int] = {
    normalized(n): i
    for n, i in (
        ("range", 0), ("timeSlots", 1), ("arrayWithConstant", 0), ("arrayResize", 1), ("repeat", 1), ("space", 0),
        ("randomString", 0), ("randomFixedString", 0), ("randomPrintableASCII", 0), ("randomStringUTF8", 0),
        ("leftPad", 1), ("rightPad", 1), ("leftPadUTF8", 1), ("rightPadUTF8", 1), ("toFixedString", 1),
        ("arrayRandomSample", 1), ("mapPopulateSeries", 0), ("h3kRing", 1),
    )
}
# fmt: on
