-- id: approver_conflict
-- title: 优亲厚友/审批不相容
-- severity: high
-- materialize: conflicts
-- catalogue: field
-- subject: household_id, program
-- optional: residents
-- requires: roster.approved_by
-- description: Roster records approved by an official who is the recipient (self), who is
--   registered in the recipient's hukou (residents.hukou_id) or roster household (household),
--   or who also made a payment of that record (payouts.paid_by, payer). An approver from the
--   same village but another household is not a case. One case per household and program;
--   evidence names the approver and the kinds of conflict. Amount at risk: what was paid (and
--   not sent back) on the conflicted records within their months.
-- meaning: 名册记录的审批人就是保障对象本人，或与保障对象同一户籍、同一保障家庭，
--   或审批人又经办了该对象的资金发放。请核实审批是否回避、是否单独登记备案，
--   审批与发放是否分岗，必要时重新审核该户资格。
-- amount: 存在审批冲突的名册记录在其保障期内向这些对象发放的金额之和（不含银行退回的款项）。
-- basis: 《社会救助暂行办法》第六十六条、《最低生活保障审核确认办法》(民发〔2021〕57号)
--   第二十九条：经办人员及村(居)委会成员近亲属申请的，应单独登记备案；审核、审批与资金
--   发放岗位相互分离，不得由同一人办理。
WITH rec AS (
  SELECT * FROM roster_cover WHERE approved_by IS NOT NULL AND trim(approved_by) <> ''
),
conflicts AS (
  SELECT r.household_id, r.program, r.id_no, r.approved_by, r.region_code, r.start_period, r.cover_until,
         'self' AS kind
  FROM rec r
  WHERE r.approved_by = r.id_no
  UNION ALL
  SELECT DISTINCT r.household_id, r.program, r.id_no, r.approved_by, r.region_code, r.start_period, r.cover_until,
         'household' AS kind
  FROM rec r
  JOIN residents a ON a.id_no = r.approved_by
  JOIN residents b ON b.id_no = r.id_no AND b.hukou_id = a.hukou_id
  WHERE r.approved_by <> r.id_no
  UNION ALL
  SELECT DISTINCT r.household_id, r.program, r.id_no, r.approved_by, r.region_code, r.start_period, r.cover_until,
         'household' AS kind
  FROM rec r
  JOIN roster m ON m.id_no = r.approved_by AND m.household_id = r.household_id
  WHERE r.approved_by <> r.id_no
  UNION ALL
  SELECT DISTINCT r.household_id, r.program, r.id_no, r.approved_by, r.region_code, r.start_period, r.cover_until,
         'payer' AS kind
  FROM rec r
  JOIN payouts p ON p.id_no = r.id_no AND p.program = r.program AND p.paid_by = r.approved_by
  WHERE p.period >= r.start_period
),
records AS (
  SELECT DISTINCT household_id, program, id_no, start_period, cover_until FROM conflicts
),
paid_to AS (
  SELECT c.household_id, c.program, CAST(SUM(p.amount) AS DECIMAL(18,2)) AS paid
  FROM records c
  JOIN paid p ON p.id_no = c.id_no AND p.program = c.program
   AND p.period BETWEEN c.start_period AND c.cover_until
  GROUP BY c.household_id, c.program
),
kinds AS (
  SELECT household_id, program, string_agg(kind, ',' ORDER BY kind) AS kinds
  FROM (SELECT DISTINCT household_id, program, kind FROM conflicts) k
  GROUP BY household_id, program
)
SELECT
  MIN(h.id_no) AS id_no,
  MIN(h.name) AS name,
  c.household_id,
  c.program,
  MAX(c.region_code) AS region_code,
  MIN(c.start_period) AS period,
  MAX(t.paid) AS amount_at_risk,
  MIN(c.approved_by) AS approved_by,
  MIN(a.name) AS approver_name,
  MAX(k.kinds) AS kinds
FROM conflicts c
JOIN kinds k ON k.household_id = c.household_id AND k.program = c.program
LEFT JOIN paid_to t ON t.household_id = c.household_id AND t.program = c.program
LEFT JOIN household_head h ON h.household_id = c.household_id AND h.program = c.program
LEFT JOIN residents a ON a.id_no = c.approved_by
GROUP BY c.household_id, c.program
