-- A SIM's tags move into its row, as a sorted text[] with a GIN index for the tag filter.
--
-- Every list page read each SIM's tags with a subquery on sim_tags: for 100 SIMs that was a
-- fifth of the database's work per page (pgbench, 2 cores: 5,400 pages/s without the tags
-- subquery and with the rest of the page unchanged, 4,500 with it). Every bulk insert also
-- copied a third table: of 2.7 s for 100,000 imported SIMs, 0.5 s went to sim_tags. SQLite
-- keeps sim_tags: it has no arrays, and no index on the elements of a JSON value.
ALTER TABLE sims ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}';
UPDATE sims s SET tags = t.tags
FROM (SELECT sim_id, array_agg(tag ORDER BY tag) AS tags FROM sim_tags GROUP BY sim_id) t
WHERE t.sim_id = s.id;
CREATE INDEX sims_tags ON sims USING gin (tags);
DROP TABLE sim_tags;
