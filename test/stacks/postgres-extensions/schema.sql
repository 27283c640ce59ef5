-- The app database of test/stacks/postgres-extensions.nix, applied once on the first start:
-- every extension the stack installs is created here, and given something to do.
-- PostGIS refuses to install while pgaudit logs (its own check): audit nothing for this session meanwhile.
SET pgaudit.log = 'none';
CREATE EXTENSION postgis;
RESET pgaudit.log;
CREATE EXTENSION pgtap;
CREATE EXTENSION pgaudit;
CREATE EXTENSION pg_cron;
CREATE EXTENSION hypopg;
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;

CREATE TABLE places (name text PRIMARY KEY, location geography(Point, 4326) NOT NULL);
INSERT INTO places VALUES
  ('berlin', 'SRID=4326;POINT(13.4050 52.5200)'),
  ('paris', 'SRID=4326;POINT(2.3522 48.8566)');

-- pg_partman makes the daily partitions of events around today.
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, created_at timestamptz NOT NULL, body text)
  PARTITION BY RANGE (created_at);
SELECT partman.create_parent('public.events', 'created_at', 'native', 'daily');

-- pg_cron: a job of every minute, whose runs the test waits for.
CREATE TABLE ticks (at timestamptz NOT NULL DEFAULT now());
SELECT cron.schedule('tick', '* * * * *', 'INSERT INTO ticks DEFAULT VALUES');

-- The pgTAP suite runs as the role tester (pgtap.user), which reads the tables.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO tester;
