-- id: amount_mismatch
-- title: 超标准/与核定金额不符
-- severity: medium
-- materialize: off, approved
-- catalogue: core
-- subject: id_no, program, period
-- description: A payout that differs from the approved monthly amount of the roster record
--   covering its month (the record of the payout's own region where there is one) by more
--   than `amount_tolerance`, or that exceeds the monthly standard
--   in force for its region, program and month. Amount at risk: the larger of the difference
--   from the approved amount and the excess over the standard.
-- meaning: 某月实际发放金额与名册核定的月发放金额不一致（差额超过允许的误差，多发少发都算），
--   或高于当地该项目当月的保障标准。请核对核定金额、发放清册和标准文件，查明原因，
--   多发的追回，少发的补发。
-- amount: 实发金额与核定金额的差额（多发少发都计）与超出当月保障标准的部分两者取较大者；
--   同月有多笔时取差额最大的一笔。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十条：按家庭人均收入低于当地最低生活
--   保障标准的差额发放；《中央财政困难群众救助补助资金管理办法》(财社〔2017〕58号)：
--   按核定标准足额发放，不得超标准发放。
WITH off AS (
  -- The approved amount a payout is judged by is one of the records covering it: a payout
  -- within the tolerance of every such record, and within the standard, cannot be a case.
  -- The few that are not are gathered first.
  SELECT p.payout_id
  FROM paid p
  JOIN roster_cover r
    ON r.id_no = p.id_no AND r.program = p.program
   AND r.start_period <= p.period AND p.period <= r.cover_until
  WHERE abs(p.amount - r.approved_amount) > $amount_tolerance
  UNION
  SELECT p.payout_id
  FROM paid p
  JOIN month_standard s ON s.region_code = p.region_code AND s.program = p.program AND s.period = p.period
  WHERE p.amount > s.monthly_standard
),
approved AS (
  SELECT p.payout_id,
         COALESCE(MAX(CASE WHEN r.region_code = p.region_code THEN r.approved_amount END),
                  MAX(r.approved_amount)) AS approved_amount
  FROM off o
  JOIN paid p ON p.payout_id = o.payout_id
  JOIN roster_cover r
    ON r.id_no = p.id_no AND r.program = p.program
   AND r.start_period <= p.period AND p.period <= r.cover_until
  GROUP BY p.payout_id
),
judged AS (
  SELECT p.id_no, p.name, p.household_id, p.program, p.region_code, p.period, p.payout_id,
         p.amount, a.approved_amount, s.monthly_standard,
         CASE WHEN abs(p.amount - a.approved_amount) > $amount_tolerance
              THEN abs(p.amount - a.approved_amount) END AS off_approved,
         CASE WHEN p.amount > s.monthly_standard THEN p.amount - s.monthly_standard END AS over_standard
  FROM off o
  JOIN paid p ON p.payout_id = o.payout_id
  LEFT JOIN approved a ON a.payout_id = p.payout_id
  LEFT JOIN month_standard s ON s.region_code = p.region_code AND s.program = p.program AND s.period = p.period
)
SELECT
  id_no,
  MAX(name) AS name,
  MAX(household_id) AS household_id,
  program,
  MAX(region_code) AS region_code,
  period,
  MAX(greatest(coalesce(off_approved, 0), coalesce(over_standard, 0))) AS amount_at_risk,
  MAX(amount) AS amount_paid,
  MAX(approved_amount) AS approved_amount,
  MAX(monthly_standard) AS monthly_standard,
  string_agg(payout_id, ',' ORDER BY payout_id) AS payout_ids
FROM judged
WHERE off_approved IS NOT NULL OR over_standard IS NOT NULL
GROUP BY id_no, program, period
