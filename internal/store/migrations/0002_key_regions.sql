-- Regions a key's requests may be served from (JSON list; [] = any).
ALTER TABLE keys ADD COLUMN regions TEXT NOT NULL DEFAULT '[]';
