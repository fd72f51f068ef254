"""Every SQL statement about classes and their members: the classroom owns both tables."""

from __future__ import annotations

INSERT_CLASS = """
INSERT INTO classes (class_id, name, district, expires_at) VALUES (%s, %s, %s, %s)
"""

CLASS = "SELECT class_id, name, district, created_at, expires_at FROM classes WHERE class_id = %s"

INSERT_MEMBER = """
INSERT INTO class_members (username, class_id, member, role, password_hash, sim_device_id, expires_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

MEMBERS = """
SELECT m.username, m.class_id, m.member, m.role, m.sim_device_id, m.expires_at, m.revoked_at, c.district
FROM class_members m JOIN classes c USING (class_id)
WHERE (%s::text IS NULL OR m.class_id = %s::text)
ORDER BY m.class_id, m.role DESC, m.member
"""

ACTIVE_ACCOUNTS = """
SELECT m.username, m.class_id, m.member, m.role, m.password_hash, c.district, m.expires_at
FROM class_members m JOIN classes c USING (class_id)
WHERE m.revoked_at IS NULL AND m.expires_at > now()
ORDER BY m.username
"""

TAKEN_DEVICES = "SELECT sim_device_id FROM class_members WHERE sim_device_id IS NOT NULL AND revoked_at IS NULL"

REVOKE_ACCOUNT = """
UPDATE class_members SET revoked_at = now()
WHERE revoked_at IS NULL AND username = %s
RETURNING username, class_id, member, sim_device_id
"""

REVOKE_CLASS = """
UPDATE class_members SET revoked_at = now()
WHERE revoked_at IS NULL AND class_id = %s
RETURNING username, class_id, member, sim_device_id
"""
