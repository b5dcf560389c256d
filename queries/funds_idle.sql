-- id: funds_idle
-- title: 资金滞留
-- severity: medium
-- catalogue: field
-- subject: region_code, program, period
-- description: County × program × month: of the money allocated, more than `idle_share` was
--   not paid out (to recipients, the bank not sending it back), and the allocation is more
--   than `idle_days` days old on the as-of date (its latest top-up counts). Amount at risk:
--   the money allocated and not paid.
-- basis: 《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：资金及时拨付、专款
--   专用，不得滞留、挤占、挪用；审计署关于民生资金滞留闲置问题的审计要求。
WITH allocated AS (
  SELECT left(region_code, 6) AS county, program, period,
         CAST(SUM(amount) AS DECIMAL(18,2)) AS allocated, MAX(allocated_on) AS allocated_on,
         array_to_string(array_sort(array_agg(DISTINCT doc_no)), ',') AS doc_nos
  FROM allocations
  GROUP BY left(region_code, 6), program, period
),
paid_out AS (
  SELECT left(region_code, 6) AS county, program, period, CAST(SUM(amount) AS DECIMAL(18,2)) AS paid
  FROM paid
  GROUP BY left(region_code, 6), program, period
)
SELECT
  a.county AS region_code,
  a.program,
  a.period,
  a.allocated - COALESCE(p.paid, CAST(0 AS DECIMAL(18,2))) AS amount_at_risk,
  a.allocated,
  COALESCE(p.paid, CAST(0 AS DECIMAL(18,2))) AS paid,
  a.allocated_on,
  days_between(a.allocated_on, $as_of) AS days_since_allocation,
  a.doc_nos
FROM allocated a
LEFT JOIN paid_out p ON p.county = a.county AND p.program = a.program AND p.period = a.period
WHERE a.allocated - COALESCE(p.paid, CAST(0 AS DECIMAL(18,2))) > $idle_share * a.allocated
  AND days_between(a.allocated_on, $as_of) > $idle_days
