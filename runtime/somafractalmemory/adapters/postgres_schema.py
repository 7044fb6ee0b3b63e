"""The PostgreSQL schema as ordered, versioned migrations.

Each migration runs once, in its own transaction, and is recorded in ``soma_schema_migrations``. A
transaction-scoped advisory lock serialises concurrent migrators (several replicas starting at once), so
applying is idempotent: running it again applies nothing.

Why the indexes look the way they do:
- keyword search looks in ``folded_text`` (the payload text, case-folded in Python so that folding does not
  depend on the database locale) through a trigram GIN index, for substring search of any case; the case-
  sensitive variant narrows with the same index and re-checks ``search_text``. Exact search uses a GIN index
  on the array of folded string values.
- lexical ranking (recall's lexical leg, keyword search's order): ``search_words``, a stored generated
  ``tsvector`` of the payload text under ``soma_words`` (the ``english`` configuration with a Snowball
  stemmer that keeps stop words, as SQLite's porter tokenizer does), with a GIN index, ranked by
  ``ts_rank``; generated, it cannot disagree with the row it belongs to.
- coordinate range: a btree on (namespace, dimensions, first component) narrows to a slice of the first axis.
- stats: ``soma_namespace_counters`` is maintained by a trigger in the writing transaction, never counted.
- recent and most important lists: btrees on (namespace, updated_at) and the eviction index.
- embedder: ``embedder`` names the embedder that made the memory's vector (null for memories written
  before migration 6: unknown, so ``soma reindex`` embeds them again).
- versions: ``soma_memory_versions`` is keyed by memory and version number, so a memory's history, its
  newest number and the trim of its oldest read one primary-key range.
"""

import logging
from dataclasses import dataclass

import psycopg

logger = logging.getLogger(__name__)

# Any constant unique to this schema: the key of the advisory lock migrators take.
MIGRATION_LOCK_KEY = 0x50_4D_41_5F_53_43_48  # "SOMA_SCH"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "memories, links, counters, outbox",
        """
        CREATE EXTENSION IF NOT EXISTS pg_trgm;

        CREATE TABLE soma_memories (
            namespace     text NOT NULL,
            coord_key     text NOT NULL,
            coord         double precision[] NOT NULL,
            dimensions    smallint NOT NULL,
            payload       jsonb NOT NULL,
            memory_type   text NOT NULL CHECK (memory_type IN ('episodic', 'semantic')),
            importance    double precision NOT NULL,
            created_at    double precision NOT NULL,
            updated_at    double precision NOT NULL,
            access_count  bigint NOT NULL DEFAULT 0,
            search_text   text NOT NULL,
            folded_text   text NOT NULL,
            string_values text[] NOT NULL,
            folded_values text[] NOT NULL,
            PRIMARY KEY (namespace, coord_key)
        );
        CREATE INDEX soma_memories_type ON soma_memories (namespace, memory_type);
        CREATE INDEX soma_memories_range ON soma_memories (namespace, dimensions, (coord[1]));
        CREATE INDEX soma_memories_eviction ON soma_memories (namespace, importance, created_at);
        CREATE INDEX soma_memories_order ON soma_memories (namespace, created_at, coord_key);
        CREATE INDEX soma_memories_folded_text ON soma_memories USING gin (folded_text gin_trgm_ops);
        CREATE INDEX soma_memories_folded_values ON soma_memories USING gin (folded_values);

        CREATE TABLE soma_links (
            namespace  text NOT NULL,
            source_key text NOT NULL,
            target_key text NOT NULL,
            link_type  text NOT NULL,
            weight     double precision NOT NULL,
            created_at double precision NOT NULL,
            PRIMARY KEY (namespace, source_key, target_key, link_type)
        );
        CREATE INDEX soma_links_target ON soma_links (namespace, target_key);

        CREATE TABLE soma_namespace_counters (
            namespace text PRIMARY KEY,
            episodic  bigint NOT NULL DEFAULT 0,
            semantic  bigint NOT NULL DEFAULT 0
        );

        CREATE FUNCTION soma_count_memories() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                UPDATE soma_namespace_counters SET
                    episodic = episodic - (OLD.memory_type = 'episodic')::int,
                    semantic = semantic - (OLD.memory_type = 'semantic')::int
                WHERE namespace = OLD.namespace;
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO soma_namespace_counters AS c (namespace, episodic, semantic)
                VALUES (NEW.namespace,
                        (NEW.memory_type = 'episodic')::int, (NEW.memory_type = 'semantic')::int)
                ON CONFLICT (namespace) DO UPDATE SET
                    episodic = c.episodic + EXCLUDED.episodic,
                    semantic = c.semantic + EXCLUDED.semantic;
            END IF;
            RETURN NULL;
        END $$;

        CREATE TRIGGER soma_memories_insert_delete AFTER INSERT OR DELETE ON soma_memories
            FOR EACH ROW EXECUTE FUNCTION soma_count_memories();
        CREATE TRIGGER soma_memories_type_change AFTER UPDATE OF memory_type ON soma_memories
            FOR EACH ROW WHEN (OLD.memory_type IS DISTINCT FROM NEW.memory_type)
            EXECUTE FUNCTION soma_count_memories();

        CREATE TABLE soma_outbox (
            id         bigserial PRIMARY KEY,
            event_key  text NOT NULL,
            event      bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        2,
        "word index for lexical ranking",
        """
        CREATE TEXT SEARCH DICTIONARY soma_english_stem (TEMPLATE = snowball, LANGUAGE = english);
        CREATE TEXT SEARCH CONFIGURATION soma_words (COPY = english);
        ALTER TEXT SEARCH CONFIGURATION soma_words
            ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
            WITH soma_english_stem;
        ALTER TABLE soma_memories ADD COLUMN search_words tsvector
            GENERATED ALWAYS AS (to_tsvector('soma_words'::regconfig, search_text)) STORED;
        CREATE INDEX soma_memories_words ON soma_memories USING gin (search_words);
        """,
    ),
    Migration(
        3,
        "memory versions",
        """
        CREATE TABLE soma_memory_versions (
            namespace   text NOT NULL,
            coord_key   text NOT NULL,
            number      integer NOT NULL,
            memory_type text NOT NULL CHECK (memory_type IN ('episodic', 'semantic')),
            payload     jsonb NOT NULL,
            importance  double precision NOT NULL,
            updated_at  double precision NOT NULL,
            replaced_at double precision NOT NULL,
            PRIMARY KEY (namespace, coord_key, number)
        );
        """,
    ),
    Migration(
        4,
        "recent memories",
        """
        CREATE INDEX soma_memories_recent ON soma_memories (namespace, updated_at);
        """,
    ),
    Migration(
        5,
        "audit log",
        """
        CREATE TABLE soma_audit_log (
            id        bigserial PRIMARY KEY,
            at        double precision NOT NULL,
            actor     text NOT NULL,
            action    text NOT NULL,
            namespace text NOT NULL,
            coord_key text NOT NULL
        );
        CREATE INDEX soma_audit_log_namespace ON soma_audit_log (namespace, id);
        CREATE INDEX soma_audit_log_memory ON soma_audit_log (namespace, coord_key, id);
        """,
    ),
    Migration(
        6,
        "each memory records its embedder",
        """
        ALTER TABLE soma_memories ADD COLUMN embedder text;
        """,
    ),
    Migration(
        7,
        "the audit log names the memory a link points to",
        """
        ALTER TABLE soma_audit_log ADD COLUMN target_key text;
        CREATE INDEX soma_audit_log_target ON soma_audit_log (namespace, target_key, id)
            WHERE target_key IS NOT NULL;
        """,
    ),
)


def applied_versions(conn: psycopg.Connection[tuple[object, ...]]) -> set[int]:
    rows = conn.execute("SELECT version FROM soma_schema_migrations").fetchall()
    return {int(str(row[0])) for row in rows}


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """Apply every migration not applied yet; returns the versions applied now (empty when up to date)."""
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS soma_schema_migrations ("
            " version integer PRIMARY KEY, description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = applied_versions(conn)
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO soma_schema_migrations (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
            logger.info("applied schema migration %d: %s", migration.version, migration.description)
            applied_now.append(migration.version)
    return applied_now
