-- view: uncovered
-- materialize: once
-- description: Payouts that reached the recipient for a month no roster record of the same
--   person and program covers.
SELECT p.*
FROM paid p
WHERE NOT EXISTS (
  SELECT 1 FROM roster_cover r
  WHERE r.id_no = p.id_no AND r.program = p.program
    AND r.start_period <= p.period AND p.period <= r.cover_until
)
