-- id: funds_idle
-- title: 资金滞留
-- severity: medium
-- catalogue: field
-- subject: region_code, program, period
-- description: County × program × month: of the money allocated, more than `idle_share` was
--   not paid out (to recipients, the bank not sending it back), and the allocation is more
--   than `idle_days` days old on the as-of date (its latest top-up counts). Amount at risk:
--   the money allocated and not paid.
-- meaning: 某县（区）某项目某月拨付的资金中，没有发放到对象手中的部分超过规定比例，
--   且拨付已超过规定天数。请核查资金滞留在哪一级及原因，督促及时发放或按规定处理。
-- amount: 拨付金额减去已发放（不含银行退回）金额后剩余的未发放部分。
-- basis: 《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：资金及时拨付、专款
--   专用，不得滞留、挤占、挪用；审计署关于民生资金滞留闲置问题的审计要求。
SELECT
  county AS region_code,
  program,
  period,
  allocated - paid AS amount_at_risk,
  allocated,
  paid,
  allocated_on,
  days_between(allocated_on, $as_of) AS days_since_allocation,
  doc_nos
FROM allocation_cells
WHERE allocated - paid > $idle_share * allocated
  AND days_between(allocated_on, $as_of) > $idle_days
