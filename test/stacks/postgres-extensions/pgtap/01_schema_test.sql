-- pgTAP: the schema is there, as the app expects it.
BEGIN;
SELECT plan(4);
SELECT has_table('public', 'places', 'places exists');
SELECT col_type_is('public', 'places', 'location', 'geography(Point,4326)', 'places.location is a geography point');
SELECT has_extension('pg_cron', 'pg_cron is installed');
SELECT is((SELECT count(*)::int FROM places), 2, 'two places were seeded');
SELECT * FROM finish();
ROLLBACK;
