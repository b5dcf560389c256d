-- id: over_disbursed
-- title: 超拨付发放
-- severity: high
-- catalogue: field
-- subject: region_code, program, period
-- description: County × program × month with an allocation: more was paid out (the bank not
--   sending it back) than was allocated — money taken from elsewhere. Paying exactly the
--   allocation is not a case. Amount at risk: the excess.
-- meaning: 某县（区）某项目某月实际发放（银行未退回）的金额超过了拨付到位的资金，
--   超出部分来自其他资金。请核查超出部分的资金来源，是否挤占、挪用了其他资金。
-- amount: 实际发放总额（不含银行退回的款项）超过拨付金额的部分。
-- basis: 《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：专款专用，不得挤占、
--   挪用其他资金发放；《预算法》关于按预算拨付的规定。
SELECT
  county AS region_code,
  program,
  period,
  paid - allocated AS amount_at_risk,
  allocated,
  paid,
  payouts,
  doc_nos
FROM allocation_cells
WHERE payouts > 0 AND paid > allocated
