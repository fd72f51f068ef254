-- Classes of students publishing into the city. The broker's password and ACL files are
-- generated from these rows ('smartcity class ...'); ingest reads them to refuse readings
-- of revoked or expired accounts even before the broker has been told.
CREATE TABLE classes (
    class_id     text PRIMARY KEY CHECK (class_id ~ '^[a-z0-9][a-z0-9_.-]{0,31}$'),
    name         text NOT NULL,
    district     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

CREATE TABLE class_members (
    username       text PRIMARY KEY,
    class_id       text NOT NULL REFERENCES classes (class_id) ON DELETE CASCADE,
    member         text NOT NULL,          -- the topic segment: student01, teacher
    role           text NOT NULL CHECK (role IN ('student', 'teacher')),
    password_hash  text NOT NULL,          -- Mosquitto's PBKDF2-SHA512 hash line part
    sim_device_id  text,                   -- the simulated sensor this student may take over
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    UNIQUE (class_id, member)
);
CREATE INDEX class_members_class_idx ON class_members (class_id);

-- The student a class device was first seen under (class/<class>/<student>/<device>).
ALTER TABLE devices ADD COLUMN owner text;
