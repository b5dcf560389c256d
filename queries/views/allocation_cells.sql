-- view: allocation_cells
-- materialize: once
-- description: Every county (first six digits of the region code) × program × month with an
--   allocation: what was allocated (with the latest allocation date and the documents), and
--   what was paid and not sent back (`paid`, 0 when nothing was), with the number of payouts.
WITH allocated AS (
  SELECT left(region_code, 6) AS county, program, period,
         CAST(SUM(amount) AS DECIMAL(18,2)) AS allocated, MAX(allocated_on) AS allocated_on,
         array_to_string(array_sort(array_agg(DISTINCT doc_no)), ',') AS doc_nos
  FROM allocations
  GROUP BY left(region_code, 6), program, period
),
paid_out AS (
  SELECT left(region_code, 6) AS county, program, period,
         CAST(SUM(amount) AS DECIMAL(18,2)) AS paid, COUNT(*) AS payouts
  FROM paid
  GROUP BY left(region_code, 6), program, period
)
SELECT a.county, a.program, a.period, a.allocated, a.allocated_on, a.doc_nos,
       COALESCE(p.paid, CAST(0 AS DECIMAL(18,2))) AS paid,
       COALESCE(p.payouts, 0) AS payouts
FROM allocated a
LEFT JOIN paid_out p ON p.county = a.county AND p.program = a.program AND p.period = a.period
