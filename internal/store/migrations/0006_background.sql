-- Background responses ("background": true): the row is written when the
-- response is queued and updated as it runs. lease_until (unix
-- microseconds) is renewed by the process running it; a queued or
-- in_progress row whose lease has passed belongs to a process that
-- stopped. A cancel at another replica ends the row; the run notices
-- when it next renews its lease.
ALTER TABLE responses ADD COLUMN background INTEGER NOT NULL DEFAULT 0;
ALTER TABLE responses ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
