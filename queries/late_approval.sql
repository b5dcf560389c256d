-- id: late_approval
-- title: 超时限审批
-- severity: low
-- catalogue: core
-- subject: household_id, program
-- description: Roster records approved more than `approval_days` days after the application
--   (applied_on). Records without an application date are not judged.
-- meaning: 从申请到审批确认用时超过规定天数。请核查审批拖延的原因，督促按规定时限办理。
-- amount: 不计金额（审批超时是办理时限问题，不直接涉及资金）。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号) 关于审核确认时限的规定；
--   《特困人员认定办法》(民发〔2021〕43号) 关于认定时限的规定。
SELECT
  MIN(h.id_no) AS id_no,
  MIN(h.name) AS name,
  r.household_id,
  r.program,
  MAX(r.region_code) AS region_code,
  MIN(r.start_period) AS period,
  MIN(r.applied_on) AS applied_on,
  MAX(r.approved_on) AS approved_on,
  MAX(days_between(r.applied_on, r.approved_on)) AS days_taken
FROM roster r
LEFT JOIN household_head h ON h.household_id = r.household_id AND h.program = r.program
WHERE r.applied_on IS NOT NULL
  AND days_between(r.applied_on, r.approved_on) > $approval_days
GROUP BY r.household_id, r.program
