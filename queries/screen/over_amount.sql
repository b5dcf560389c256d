-- id: over_amount
-- title: 超过核定金额或保障标准
-- severity: medium
-- catalogue: screen
-- subject: source_row
-- description: A payment above the approved amount of the roster record covering its month
--   (beyond `amount_tolerance`), or above the monthly standard of its place and program.
-- meaning: 本笔发放金额高于名册核定金额或当地当月保障标准。请暂停发放，核对核定金额。
-- amount: 本笔发放金额。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号)：按核定的保障金额发放。
WITH approved AS (
  SELECT b.source_row, MAX(r.approved_amount) AS approved_amount
  FROM batch b
  JOIN roster_cover r
    ON r.id_no = b.id_no AND r.program = b.program
   AND r.start_period <= b.period AND b.period <= r.cover_until
  GROUP BY b.source_row
)
SELECT b.source_row, b.amount AS amount_paid, a.approved_amount, s.monthly_standard
FROM batch b
LEFT JOIN approved a ON a.source_row = b.source_row
LEFT JOIN month_standard s ON s.region_code = b.region_code AND s.program = b.program AND s.period = b.period
WHERE b.amount > a.approved_amount + $amount_tolerance OR b.amount > s.monthly_standard
