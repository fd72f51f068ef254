-- The device registry: devices known by their own ids (a DevEUI, a vendor topic), placed
-- from a file by position, lot-number address or parcel number, and devices read through
-- a configured source ('adapter').
ALTER TABLE devices DROP CONSTRAINT IF EXISTS devices_source_check;
ALTER TABLE devices ADD CONSTRAINT devices_source_check CHECK (source IN ('city', 'class', 'adapter'));
ALTER TABLE devices
    ADD COLUMN external_id text,
    ADD COLUMN installed_on date,
    ADD COLUMN parcel_pnu text,
    ADD COLUMN address text;
-- one device per external id, whatever its case (DevEUIs come in both)
CREATE UNIQUE INDEX devices_external_id_key ON devices (lower(external_id)) WHERE external_id IS NOT NULL;
