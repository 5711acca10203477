-- Which ChatDB deployment this database belongs to; lets a process tell the platform
-- database from a user's database pointed at by mistake.
CREATE TABLE platform_info (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO platform_info (key, value) VALUES ('schema', 'chatdb');
