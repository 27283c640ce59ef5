-- pgTAP: PostGIS answers the distance from Berlin to Paris (about 878 km).
BEGIN;
SELECT plan(2);
SELECT cmp_ok(
  (SELECT ST_Distance(a.location, b.location) / 1000 FROM places a, places b WHERE a.name = 'berlin' AND b.name = 'paris'),
  '>', 870::float8, 'berlin to paris is more than 870 km');
SELECT cmp_ok(
  (SELECT ST_Distance(a.location, b.location) / 1000 FROM places a, places b WHERE a.name = 'berlin' AND b.name = 'paris'),
  '<', 890::float8, 'berlin to paris is less than 890 km');
SELECT * FROM finish();
ROLLBACK;
