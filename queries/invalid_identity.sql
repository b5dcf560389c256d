-- id: invalid_identity
-- title: 身份证号无效
-- severity: high
-- catalogue: core
-- subject: id_no
-- description: Payouts to an ID number that cannot exist: wrong length, wrong GB 11643 check
--   character, an impossible birth date, or an unknown province (evidence `problem`). Amount
--   at risk: everything paid to it.
-- meaning: 领取资金的身份证号不可能真实存在：位数不对、校验码错误、
--   出生日期不存在或地区码不存在。请核对本人身份证件并更正号码；无法核实身份的停发并追回。
-- amount: 该无效身份证号名下领取的全部金额（不含银行退回的款项）。
-- basis: 《中华人民共和国居民身份证法》；GB 11643-1999《公民身份号码》：补贴对象须以真实
--   有效的公民身份号码识别，"一卡通"发放须人、证、卡一致。
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  MIN(program) AS program,
  MAX(region_code) AS region_code,
  MIN(period) AS period,
  SUM(amount) AS amount_at_risk,
  MIN(id_problem(id_no)) AS problem,
  COUNT(*) AS payouts,
  string_agg(DISTINCT program, ',' ORDER BY program) AS programs
FROM paid
WHERE NOT id_valid
GROUP BY id_no
