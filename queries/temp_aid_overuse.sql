-- id: temp_aid_overuse
-- title: 临时救助超频次/超限额
-- severity: medium
-- catalogue: field
-- subject: household_id, year
-- optional: roster
-- description: Households receiving temporary aid (the program `temp_aid_program`) more than
--   `temp_aid_max_times` times, or more than `temp_aid_annual_cap` in total, in one calendar
--   year (the year of the month paid for). A payment the bank sent back does not count, nor
--   does its re-issue twice. The household is the payout's household_id, else the
--   recipient's household on the roster, else the recipient alone. Amount at risk: the larger
--   of the total above the cap and the payments beyond the allowed number.
-- meaning: 同一家庭在一个自然年度内领取临时救助的次数超过规定次数，
--   或累计金额超过年度限额（银行退回的不算，退回后补发的只算一次）。
--   请核实每次救助的事由和审批材料，超出规定的追回。
-- amount: 年度累计超出限额的部分与超过规定次数后各次发放的金额之和，两者取较大者。
-- basis: 《国务院关于全面建立临时救助制度的通知》(国发〔2014〕47号) 及各地临时救助实施办法：
--   同一家庭同一年度内救助次数、累计金额原则上不超过规定上限。
WITH household_of AS (
  SELECT id_no, MIN(household_id) AS household_id FROM roster GROUP BY id_no
),
aid AS (
  SELECT COALESCE(p.household_id, h.household_id, p.id_no) AS household_id,
         substr(p.period, 1, 4) AS year,
         p.id_no, p.name, p.program, p.region_code, p.period, p.paid_on, p.payout_id, p.amount
  FROM paid p
  LEFT JOIN household_of h ON h.id_no = p.id_no
  WHERE p.program = $temp_aid_program
),
numbered AS (
  SELECT a.*, ROW_NUMBER() OVER (PARTITION BY household_id, year ORDER BY paid_on, payout_id) AS n
  FROM aid a
),
per_year AS (
  SELECT household_id, year,
         MIN(id_no) AS id_no, MIN(name) AS name, MIN(program) AS program, MIN(region_code) AS region_code,
         MAX(period) AS period,
         COUNT(*) AS times,
         CAST(SUM(amount) AS DECIMAL(18,2)) AS total_paid,
         CAST(SUM(CASE WHEN n > $temp_aid_max_times THEN amount ELSE 0 END) AS DECIMAL(18,2)) AS beyond_times,
         string_agg(period, ',' ORDER BY paid_on, payout_id) AS periods_paid
  FROM numbered
  GROUP BY household_id, year
)
SELECT id_no, name, household_id, program, region_code, period,
       CAST(greatest(total_paid - $temp_aid_annual_cap, beyond_times) AS DECIMAL(18,2)) AS amount_at_risk,
       year, times, total_paid, periods_paid
FROM per_year
WHERE times > $temp_aid_max_times OR total_paid > $temp_aid_annual_cap
