-- id: over_disbursed
-- title: 超拨付发放
-- severity: high
-- catalogue: field
-- subject: region_code, program, period
-- description: County × program × month with an allocation: more was paid out (the bank not
--   sending it back) than was allocated — money taken from elsewhere. Paying exactly the
--   allocation is not a case. Amount at risk: the excess.
-- basis: 《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：专款专用，不得挤占、
--   挪用其他资金发放；《预算法》关于按预算拨付的规定。
WITH allocated AS (
  SELECT left(region_code, 6) AS county, program, period,
         CAST(SUM(amount) AS DECIMAL(18,2)) AS allocated,
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
SELECT
  a.county AS region_code,
  a.program,
  a.period,
  p.paid - a.allocated AS amount_at_risk,
  a.allocated,
  p.paid,
  p.payouts,
  a.doc_nos
FROM allocated a
JOIN paid_out p ON p.county = a.county AND p.program = a.program AND p.period = a.period
WHERE p.paid > a.allocated
