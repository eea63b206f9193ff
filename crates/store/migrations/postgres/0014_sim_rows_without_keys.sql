-- sim_events and sim_tags lose their foreign keys to sims, as usage_daily did in 0012. The
-- keys' per-row triggers were a quarter of a bulk SIM insert: for 100,000 imported SIMs with
-- 200,000 tags, 4.3 s with them and 3.0 s without (psql, 2 cores). Every writer of these rows
-- takes the SIM's id from sims inside the same transaction, and SIMs are never deleted
-- (terminated is a status), so no row can lose its SIM. SQLite keeps the keys.
ALTER TABLE sim_events DROP CONSTRAINT IF EXISTS sim_events_sim_id_fkey;
ALTER TABLE sim_tags DROP CONSTRAINT IF EXISTS sim_tags_sim_id_fkey;
