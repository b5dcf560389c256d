-- view: roster_cover
-- description: Roster records with the last month they cover (`cover_until`): their
--   end_period; for an active record without one, every month on; for a suspended or
--   exited record without one, none (NULL) — a record that has ended covers nothing it
--   cannot show it covered. A record covers month m when start_period <= m <= cover_until.
SELECT r.*,
       CASE
         WHEN r.end_period IS NOT NULL THEN r.end_period
         WHEN r.status = 'active' THEN '9999-12'
       END AS cover_until
FROM roster r
