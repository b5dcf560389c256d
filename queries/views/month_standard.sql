-- view: month_standard
-- materialize: once
-- description: The monthly standard in force for each region code, program and month that
--   the payouts, roster and resident registry mention (every paid month and the as-of
--   month): the standard row of the longest region prefix that matches (a county's own
--   standard before its city's, before its province's).
-- optional: payouts, roster, residents, programs
WITH places AS (
  SELECT DISTINCT region_code, program FROM payouts
  UNION SELECT DISTINCT region_code, program FROM roster
  UNION SELECT DISTINCT r.region_code, g.program FROM residents r CROSS JOIN programs g WHERE g.universal
),
months AS (
  SELECT DISTINCT period FROM payouts
  -- VALUES, not a bare SELECT: a one-row SELECT under a UNION trips Ballista 55's
  -- per-task plan pruning, and the job never finishes.
  UNION SELECT v.period FROM (VALUES (month_of($as_of))) AS v(period)
),
candidates AS (
  SELECT pl.region_code, pl.program, m.period, s.monthly_standard,
         ROW_NUMBER() OVER (
           PARTITION BY pl.region_code, pl.program, m.period
           ORDER BY length(s.region_code) DESC
         ) AS n
  FROM places pl
  JOIN standards s ON s.program = pl.program AND starts_with(pl.region_code, s.region_code)
  JOIN months m ON m.period >= s.effective_from AND (s.effective_to IS NULL OR m.period <= s.effective_to)
)
SELECT region_code, program, period, monthly_standard FROM candidates WHERE n = 1
