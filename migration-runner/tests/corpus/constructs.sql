-- PostgreSQL constructs the SQL readers must answer for beyond the
-- workspace's own history and tests: one text per block, blocks separated
-- by a line `====`. Each is read as one migration statement (it may hold
-- several statements, or text the parser refuses). The parser corpus test
-- (src/parser_corpus.rs) pins what the readers answer for each.
====
CREATE SCHEMA billing CREATE TABLE invoices (id int REFERENCES users (id)) CREATE VIEW v AS SELECT * FROM invoices CREATE INDEX i ON invoices (id) CREATE SEQUENCE s
====
CREATE SCHEMA IF NOT EXISTS "Billing"
====
CREATE SCHEMA AUTHORIZATION joe
====
CREATE SCHEMA s AUTHORIZATION joe
====
CREATE TABLE "Academy"."Courses" ("Id" uuid)
====
CREATE UNLOGGED TABLE academy.u (id int)
====
CREATE TEMP TABLE scratch (id int REFERENCES core.users (id))
====
CREATE TEMPORARY TABLE scratch2 AS SELECT * FROM core.users
====
CREATE TABLE pg_temp.scratch3 (id int)
====
CREATE TABLE academy.child (x int) INHERITS (academy.parent, other)
====
CREATE TABLE academy.p1 PARTITION OF academy.events FOR VALUES IN (1)
====
CREATE TABLE academy.events (id int, at date) PARTITION BY RANGE (at)
====
CREATE TABLE academy.l (LIKE academy.courses INCLUDING ALL)
====
CREATE TABLE academy.t (a int CONSTRAINT fk_a REFERENCES core.users, b int, FOREIGN KEY (b) REFERENCES talent.profiles (id) ON DELETE CASCADE)
====
CREATE TABLE IF NOT EXISTS academy.t2 (id int PRIMARY KEY, tag text DEFAULT 'x'::text, k talent.kind[], n numeric(10,2) CHECK (n > 0))
====
CREATE TABLE academy.copy AS SELECT * FROM academy.courses
====
CREATE TABLE copy2 AS SELECT 1 WITH NO DATA
====
CREATE TABLE academy.c3 AS WITH x AS (SELECT 1) SELECT * FROM x
====
CREATE MATERIALIZED VIEW academy.mv AS SELECT * FROM core.users
====
CREATE MATERIALIZED VIEW mv2 AS SELECT 1
====
REFRESH MATERIALIZED VIEW CONCURRENTLY academy.mv
====
CREATE VIEW v AS SELECT * FROM t
====
CREATE OR REPLACE VIEW academy.v2 AS SELECT a.id FROM academy.a a LEFT JOIN core.users u USING (id) WHERE u.id IN (SELECT id FROM talent.x)
====
CREATE TEMP VIEW tv AS SELECT 1
====
CREATE SEQUENCE academy.seq START 1
====
CREATE SEQUENCE seq2
====
ALTER SEQUENCE academy.seq RESTART WITH 5
====
ALTER SEQUENCE academy.seq OWNED BY academy.t.id
====
ALTER SEQUENCE academy.seq RENAME TO seq9
====
ALTER INDEX academy.i RENAME TO j
====
ALTER INDEX i2 SET TABLESPACE x
====
ALTER INDEX academy.i SET SCHEMA other
====
ALTER VIEW academy.v RENAME TO w
====
ALTER VIEW academy.v OWNER TO bob
====
ALTER MATERIALIZED VIEW academy.mv RENAME TO mv3
====
ALTER TABLE academy.courses OWNER TO bob
====
ALTER TABLE ONLY academy.courses ADD CONSTRAINT c CHECK (x > 0)
====
ALTER TABLE IF EXISTS academy.courses DROP COLUMN x CASCADE
====
ALTER TABLE courses RENAME TO classes
====
ALTER TABLE academy.courses RENAME COLUMN a TO b
====
ALTER TABLE academy.courses RENAME CONSTRAINT a TO b
====
ALTER TABLE academy.courses SET SCHEMA archive
====
ALTER TABLE academy.courses ALTER COLUMN k TYPE talent.kind USING k::talent.kind
====
ALTER TABLE academy.courses ADD COLUMN k talent.kind DEFAULT core.f()
====
ALTER TABLE academy.courses ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES users (id), ADD CONSTRAINT fk2 FOREIGN KEY (b) REFERENCES core.roles
====
ALTER TABLE academy.events ATTACH PARTITION academy.e2025 FOR VALUES IN (2)
====
ALTER TABLE academy.events DETACH PARTITION academy.e2024 FINALIZE
====
ALTER TABLE academy.courses ENABLE ROW LEVEL SECURITY
====
ALTER FOREIGN TABLE academy.ft ADD COLUMN x int
====
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON academy.t USING btree (lower(x)) WHERE y IS NOT NULL
====
CREATE INDEX ON t (x)
====
CREATE INDEX i ON ONLY academy.t (x)
====
CREATE TRIGGER trg BEFORE UPDATE ON academy.t FOR EACH ROW EXECUTE FUNCTION core.touch()
====
CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE PROCEDURE touch()
====
CREATE RULE r AS ON INSERT TO academy.t DO INSTEAD NOTHING
====
CREATE RULE r2 AS ON INSERT TO academy.t DO ALSO INSERT INTO academy.log VALUES (1)
====
CREATE POLICY p ON academy.t USING (owner = current_user)
====
DROP TABLE academy.a, b, c.d CASCADE
====
DROP TABLE IF EXISTS "Academy"."X"
====
DROP INDEX academy.i, j
====
DROP VIEW IF EXISTS academy.v, w
====
DROP MATERIALIZED VIEW academy.mv
====
DROP SEQUENCE academy.s
====
DROP FOREIGN TABLE academy.ft
====
DROP SCHEMA a, b CASCADE
====
DROP SCHEMA IF EXISTS legacy
====
DROP TYPE academy.mood, mood2
====
DROP DOMAIN IF EXISTS academy.seats
====
DROP FUNCTION academy.f(int, talent.kind), g()
====
DROP PROCEDURE academy.p()
====
DROP AGGREGATE academy.agg(int)
====
DROP TRIGGER trg ON academy.t
====
DROP TRIGGER IF EXISTS trg ON t
====
DROP POLICY p ON academy.t
====
DROP RULE r ON academy.t
====
DROP EXTENSION pgcrypto
====
DROP COLLATION academy.c
====
DROP OWNED BY bob
====
DROP ROLE bob
====
DROP DATABASE x
====
DROP TABLESPACE x
====
CREATE TABLESPACE x LOCATION '/tmp'
====
CREATE DATABASE y
====
ALTER SYSTEM SET work_mem = '1MB'
====
VACUUM FULL academy.t
====
VACUUM (ANALYZE) t
====
ANALYZE academy.t
====
REINDEX TABLE academy.t
====
REINDEX TABLE CONCURRENTLY t
====
REINDEX SCHEMA academy
====
REINDEX DATABASE app
====
CLUSTER academy.t USING i
====
LOCK TABLE academy.t IN ACCESS EXCLUSIVE MODE
====
ALTER SCHEMA a RENAME TO b
====
ALTER SCHEMA a OWNER TO bob
====
ALTER TYPE academy.mood ADD VALUE 'x' BEFORE 'y'
====
ALTER TYPE academy.mood RENAME VALUE 'x' TO 'z'
====
ALTER TYPE academy.mood RENAME TO feeling
====
ALTER TYPE academy.mood SET SCHEMA other
====
ALTER TYPE academy.mood OWNER TO bob
====
ALTER TYPE academy.comp ADD ATTRIBUTE z int
====
ALTER TYPE mood ADD VALUE 'q'
====
ALTER DOMAIN academy.d SET DEFAULT 1
====
ALTER DOMAIN academy.d RENAME TO e
====
ALTER DOMAIN academy.d OWNER TO bob
====
ALTER FUNCTION academy.f(int) RENAME TO g
====
ALTER FUNCTION academy.f(int) SET SCHEMA other
====
ALTER FUNCTION academy.f(int) OWNER TO bob
====
ALTER FUNCTION academy.f(int) IMMUTABLE
====
COMMENT ON TABLE t IS 'x'
====
COMMENT ON COLUMN academy.t.c IS 'x'
====
COMMENT ON COLUMN t.c IS NULL
====
COMMENT ON SCHEMA academy IS 'x'
====
COMMENT ON INDEX academy.i IS 'x'
====
COMMENT ON VIEW v IS 'x'
====
COMMENT ON SEQUENCE academy.s IS 'x'
====
COMMENT ON TYPE academy.mood IS 'x'
====
COMMENT ON DOMAIN academy.d IS 'x'
====
COMMENT ON FUNCTION academy.f(int) IS 'x'
====
COMMENT ON CONSTRAINT c ON academy.t IS 'x'
====
COMMENT ON CONSTRAINT c ON t IS 'x'
====
COMMENT ON TRIGGER trg ON academy.t IS 'x'
====
COMMENT ON EXTENSION pgcrypto IS 'x'
====
COMMENT ON DATABASE app IS 'x'
====
COMMENT ON ROLE bob IS 'x'
====
GRANT SELECT ON academy.t TO academy_app
====
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE academy.t, t2 TO academy_app, "Other", PUBLIC
====
GRANT ALL ON academy.t TO a
====
GRANT ALL PRIVILEGES ON SCHEMA academy TO a
====
GRANT USAGE, CREATE ON SCHEMA academy, talent TO a WITH GRANT OPTION
====
GRANT USAGE ON SEQUENCE academy.s TO a
====
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA academy TO a
====
GRANT SELECT ON ALL TABLES IN SCHEMA academy, core TO a
====
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA academy TO a
====
GRANT EXECUTE ON FUNCTION academy.f(int) TO a
====
GRANT USAGE ON TYPE academy.mood TO a
====
GRANT CONNECT ON DATABASE app TO a
====
GRANT academy_app TO bob
====
GRANT SELECT (a, b) ON academy.t TO a
====
GRANT SELECT ON t TO CURRENT_USER, GROUP g
====
REVOKE ALL ON academy.t FROM a
====
REVOKE INSERT ON academy.t FROM a, b CASCADE
====
REVOKE GRANT OPTION FOR SELECT ON academy.t FROM a
====
REVOKE USAGE ON SCHEMA academy FROM PUBLIC
====
REVOKE SELECT ON ALL TABLES IN SCHEMA academy FROM a
====
REVOKE academy_app FROM bob
====
ALTER DEFAULT PRIVILEGES IN SCHEMA academy GRANT SELECT, INSERT ON TABLES TO a
====
ALTER DEFAULT PRIVILEGES FOR ROLE deployer IN SCHEMA academy, talent GRANT USAGE ON SEQUENCES TO a
====
ALTER DEFAULT PRIVILEGES IN SCHEMA academy REVOKE ALL ON TABLES FROM a
====
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO a
====
ALTER DEFAULT PRIVILEGES IN SCHEMA academy GRANT EXECUTE ON FUNCTIONS TO a
====
ALTER DEFAULT PRIVILEGES IN SCHEMA academy GRANT USAGE ON TYPES TO a
====
CREATE FUNCTION academy.f(a int) RETURNS talent.kind LANGUAGE sql AS $$ SELECT 'x'::talent.kind $$
====
CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO core.x VALUES (1); RETURN NEW; END $$
====
CREATE FUNCTION academy.g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END
====
CREATE PROCEDURE academy.p() LANGUAGE sql AS 'SELECT 1'
====
CREATE AGGREGATE academy.agg (int) (SFUNC = int4pl, STYPE = int)
====
CREATE TYPE academy.mood AS ENUM ('a', 'b')
====
CREATE TYPE academy.comp AS (x int, y talent.kind)
====
CREATE TYPE comp2 AS (x int)
====
CREATE TYPE academy.r AS RANGE (subtype = int4)
====
CREATE TYPE academy.shell
====
CREATE DOMAIN academy.d AS core.base CHECK (VALUE > 0)
====
CREATE DOMAIN d2 AS int
====
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA ext
====
CREATE EXTENSION hstore
====
CREATE COLLATION academy.c (provider = icu, locale = 'und')
====
INSERT INTO t VALUES (1)
====
INSERT INTO academy.t (a) SELECT a FROM core.u ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING *
====
WITH src AS (SELECT * FROM core.users) INSERT INTO academy.t SELECT * FROM src
====
UPDATE academy.t AS x SET a = y.b FROM core.u y WHERE x.id = y.id
====
UPDATE ONLY t SET a = 1
====
DELETE FROM academy.t USING core.u WHERE t.id = u.id
====
DELETE FROM pg_temp.t
====
MERGE INTO academy.t USING core.u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = 1 WHEN NOT MATCHED THEN INSERT VALUES (1)
====
COPY academy.t (a, b) FROM '/tmp/x' WITH (FORMAT csv)
====
COPY (SELECT * FROM academy.t) TO STDOUT
====
COPY t TO STDOUT
====
TRUNCATE TABLE ONLY academy.t, b RESTART IDENTITY
====
WITH d AS (UPDATE academy.t SET a = 1 RETURNING *), e AS (INSERT INTO log SELECT * FROM d RETURNING 1) SELECT * FROM e
====
SELECT core.f(x), academy.g.h(y), count(*) OVER (PARTITION BY z) FROM academy.t, LATERAL generate_series(1, 2) g, unnest(array[1]) WHERE x = ANY (SELECT y FROM talent.z)
====
SELECT * FROM t1 JOIN t2 ON true LEFT JOIN (t3 CROSS JOIN academy.t4) ON true
====
SELECT CAST(x AS academy.t), x::int, y::varchar(10), z::pg_catalog.text FROM t
====
SELECT 1 INTO newtable FROM t
====
WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r, other
====
VALUES (1), (2)
====
SET search_path TO academy, public
====
SET lock_timeout = '1s'
====
RESET ALL
====
BEGIN
====
COMMIT
====
DO $$ BEGIN CREATE TABLE academy.inside (id int); END $$
====
DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$
====
CALL academy.p()
====
SELECT nextval('academy.seq')
====
CREATE STATISTICS academy.st ON a, b FROM academy.t
====
CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION core.ev()
====
CREATE CAST (academy.a AS academy.b) WITH FUNCTION academy.f(academy.a)
====
CREATE FOREIGN TABLE academy.ft (x int) SERVER s
====
IMPORT FOREIGN SCHEMA remote FROM SERVER s INTO academy
====
SECURITY LABEL ON TABLE academy.t IS 'x'
====
ALTER TABLE academy.t ALTER COLUMN c SET DEFAULT nextval('academy.s'::regclass)
====
ALTER TABLE "academy"."t" ADD CONSTRAINT "fk" FOREIGN KEY ("x") REFERENCES "core"."users" ("id") ON DELETE SET NULL ON UPDATE CASCADE NOT VALID
====
ALTER TABLE academy.t VALIDATE CONSTRAINT fk
====
ALTER TABLE academy.a_table_name_that_goes_on_and_on_well_past_sixty_three_bytes_long_yes ADD COLUMN x int
====
UPDATE t SET a = 1;;
====
  -- leading comment
  UPDATE t SET a = 1 /* c */ ;
====
DELETE FROM t WHERE id BETWEEN $1::int AND $2::int RETURNING id
====
INSERT INTO t SELECT 1 RETURNING 1
====
SELECT 1; SELECT 2
====
CREATE TABLE "x""y" (a int)
====
CREATE TABLE ÄÖ (a int)
====
GRANT SELECT ON "Academy"."T" TO "App"
====
CREATE TABLE academy.g (id int GENERATED ALWAYS AS IDENTITY, c int GENERATED ALWAYS AS (id * 2) STORED)
====
ALTER TABLE academy.courses ADD COLUMN owner uuid CONSTRAINT owner_fk REFERENCES core.users (id) ON DELETE CASCADE
====
CREATE INDEX CONCURRENTLY i ON academy.t (x)
====
DROP INDEX CONCURRENTLY IF EXISTS i
====
CREATE TABLE t (a int) ; CREATE TABLE (
====
SELECT FROM
====
ALTER TABLE
====
CREATE FUNCTION academy.bad() RETURNS int LANGUAGE sql AS 'SELECT FROM WHERE'
====
CREATE FUNCTION academy.bad2() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETRUN 1; END $$
====
CREATE FUNCTION academy.ok() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT count(*)::int FROM academy.t $$
====
DO $$ BEGIN SELEKT 1; END $$
====
ALTER TABLE academy.t ADD COLUMN a int, ADD COLUMN b text NOT NULL DEFAULT '', DROP CONSTRAINT IF EXISTS c1, ALTER COLUMN d SET NOT NULL
====
ALTER TABLE academy.t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&)
====
ALTER TABLE academy.t ADD CONSTRAINT u UNIQUE (a, b) DEFERRABLE INITIALLY DEFERRED
====
ALTER TABLE academy.t ADD CONSTRAINT pk PRIMARY KEY USING INDEX i
====
CREATE INDEX i ON academy.t (a) INCLUDE (b) WITH (fillfactor = 70) WHERE deleted_at IS NULL
====
CREATE INDEX i2 ON academy.t USING gin ((data -> 'tags'))
====
UPDATE academy.t SET data = jsonb_set(data, '{a}', to_jsonb(now())), n = (SELECT max(n) FROM academy.t2 WHERE t2.id = t.id) WHERE id IN (SELECT id FROM talent.p)
====
INSERT INTO academy.t (a) VALUES (1), (2) ON CONFLICT DO NOTHING
====
CREATE TABLE academy.x (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), created_at timestamptz NOT NULL DEFAULT now(), CONSTRAINT x_chk CHECK (id IS NOT NULL))
====
CREATE TABLE "core"."users" ("id" uuid NOT NULL PRIMARY KEY, "email" varchar NOT NULL UNIQUE, "created_at" timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP)
====
CREATE TABLE academy.y (a int, b int, FOREIGN KEY (a, b) REFERENCES academy.z (a, b) MATCH FULL)
====
COMMENT ON COLUMN db.academy.t.c IS 'x'
====
SELECT * FROM db.academy.t
====
CREATE TABLE academy.t3 (a academy.mood DEFAULT 'x'::academy.mood, b int[] DEFAULT ARRAY[]::int[], c text COLLATE "C")
====
SELECT a.b.c.d FROM t
====
SELECT (t.x).y FROM academy.t
====
SELECT academy.f(1) + core.g(2)
====
SELECT * FROM ROWS FROM (academy.f(1), core.g(2))
====
SELECT * FROM academy.srf(1) AS s(x int)
====
SELECT x FROM academy.t WHERE EXISTS (SELECT 1 FROM core.u WHERE u.id = t.id) ORDER BY 1 LIMIT 1 FOR UPDATE SKIP LOCKED
====
WITH a AS MATERIALIZED (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b, c
====
TABLE academy.t
====
EXPLAIN ANALYZE SELECT * FROM academy.t
====
EXPLAIN DELETE FROM academy.t
====
PREPARE p AS SELECT * FROM academy.t
====
DECLARE c CURSOR FOR SELECT * FROM academy.t
====
CREATE OR REPLACE TRIGGER trg AFTER INSERT OR UPDATE OF a ON academy.t REFERENCING NEW TABLE AS n FOR EACH STATEMENT WHEN (true) EXECUTE FUNCTION academy.f()
====
ALTER TRIGGER trg ON academy.t RENAME TO trg2
====
ALTER POLICY p ON academy.t RENAME TO q
====
ALTER POLICY p ON academy.t USING (true)
====
CREATE POLICY p ON t FOR SELECT TO academy_app USING (true)
====
DROP POLICY IF EXISTS p ON t
====
ALTER TABLE academy.t ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY
====
ALTER TABLE academy.t ALTER COLUMN a SET DATA TYPE bigint
====
ALTER TABLE academy.t ALTER COLUMN a TYPE varchar(10) COLLATE "C"
====
ALTER TABLE academy.t INHERIT academy.p
====
ALTER TABLE academy.t NO INHERIT academy.p
====
ALTER TABLE academy.t OF academy.ty
====
ALTER TABLE academy.t CLUSTER ON i
====
ALTER TABLE academy.t SET (fillfactor = 50)
====
ALTER TABLE academy.t RENAME TO t9
====
ALTER TABLE IF EXISTS ONLY academy.t RENAME COLUMN a TO b
====
ALTER TABLE ALL IN TABLESPACE a SET TABLESPACE b
====
ALTER VIEW academy.v ALTER COLUMN a SET DEFAULT 1
====
ALTER VIEW academy.v RENAME COLUMN a TO b
====
ALTER MATERIALIZED VIEW academy.mv SET SCHEMA other
====
ALTER SEQUENCE academy.s SET SCHEMA other
====
ALTER EXTENSION pgcrypto SET SCHEMA ext
====
ALTER EXTENSION pgcrypto UPDATE
====
ALTER DATABASE app SET search_path TO academy
====
ALTER ROLE academy_app SET search_path TO academy
====
CREATE ROLE academy_app NOLOGIN
====
GRANT academy_app, academy_reporting TO deployer WITH ADMIN OPTION
====
GRANT SELECT ON academy.a, academy.b, core.c TO r1, r2
====
GRANT SELECT ON SEQUENCE s1, academy.s2 TO r
====
GRANT TRIGGER, REFERENCES, TRUNCATE ON academy.t TO r
====
GRANT SELECT ON TABLE t TO "Mixed Case"
====
REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA academy FROM r
====
REVOKE CREATE ON SCHEMA public FROM PUBLIC
====
ALTER DEFAULT PRIVILEGES FOR USER x GRANT SELECT ON TABLES TO r
====
ALTER DEFAULT PRIVILEGES IN SCHEMA academy GRANT USAGE ON SCHEMAS TO r
====
ALTER DEFAULT PRIVILEGES IN SCHEMA academy REVOKE GRANT OPTION FOR SELECT ON SEQUENCES FROM r CASCADE
====
GRANT SELECT ON academy.t TO r GRANTED BY deployer
====
SELECT set_config('a', 'b', false)
====
CREATE SCHEMA IF NOT EXISTS academy AUTHORIZATION deployer
====
CREATE SCHEMA billing AUTHORIZATION joe CREATE TABLE t (id int) CREATE TABLE u (x int REFERENCES t (id))
====
ALTER TABLE "talent"."profiles" ADD CONSTRAINT "profiles_headline_length" CHECK (char_length("headline") <= 200)
====
UPDATE "academy"."webinars" SET "capacity" = 100 WHERE "capacity" IS NULL
====
UPDATE t SET a = 1 WHERE id = $1 -- c
====
UPDATE t SET a = 1 -- c
;
====
SELECT 1;
====
;
