-- Class ids lose the '.': a username is <class>.<member>, and a class named like an
-- account ("c.student03") made revoking one revoke the other. Old rows stay valid
-- (NOT VALID); every new class is checked.
ALTER TABLE classes DROP CONSTRAINT IF EXISTS classes_class_id_check;
ALTER TABLE classes ADD CONSTRAINT classes_class_id_check
    CHECK (class_id ~ '^[a-z0-9][a-z0-9_-]{0,31}$') NOT VALID;

-- Ingest reads every class account's devices to count them against its limit.
CREATE INDEX IF NOT EXISTS devices_class_owner_idx ON devices (district, owner) WHERE source = 'class';
