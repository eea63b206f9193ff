-- A SIM's newest activation code is kept in its row, maintained by triggers (see the
-- PostgreSQL migration of the same name): a list page no longer runs one subquery per SIM.
ALTER TABLE sims ADD COLUMN activation_code TEXT;
-- SQLite triggers cannot share a function: each repeats this one statement for its SIMs.
UPDATE sims SET activation_code =
    (SELECT a.code FROM activation_codes a WHERE a.sim_id = sims.id ORDER BY a.id DESC LIMIT 1)
WHERE id IN (SELECT sim_id FROM activation_codes);

CREATE TRIGGER activation_codes_insert_refresh_sim AFTER INSERT ON activation_codes
WHEN NEW.sim_id IS NOT NULL
BEGIN
    UPDATE sims SET activation_code =
        (SELECT a.code FROM activation_codes a WHERE a.sim_id = sims.id ORDER BY a.id DESC LIMIT 1)
    WHERE id = NEW.sim_id;
END;

-- A code moved from one SIM to another refreshes both; a NULL in the list matches no SIM.
CREATE TRIGGER activation_codes_update_refresh_sim AFTER UPDATE OF code, sim_id ON activation_codes
BEGIN
    UPDATE sims SET activation_code =
        (SELECT a.code FROM activation_codes a WHERE a.sim_id = sims.id ORDER BY a.id DESC LIMIT 1)
    WHERE id IN (OLD.sim_id, NEW.sim_id);
END;

CREATE TRIGGER activation_codes_delete_refresh_sim AFTER DELETE ON activation_codes
WHEN OLD.sim_id IS NOT NULL
BEGIN
    UPDATE sims SET activation_code =
        (SELECT a.code FROM activation_codes a WHERE a.sim_id = sims.id ORDER BY a.id DESC LIMIT 1)
    WHERE id = OLD.sim_id;
END;
