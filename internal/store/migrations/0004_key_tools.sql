-- Server-side tools a key may use in the Responses runtime (JSON list; [] = none).
ALTER TABLE keys ADD COLUMN tools TEXT NOT NULL DEFAULT '[]';
