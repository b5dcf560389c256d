-- id: eligible_not_enrolled
-- title: 应享未享（政策找人）
-- severity: info
-- catalogue: field
-- subject: id_no, program
-- optional: deaths
-- requires: programs.universal
-- description: Residents entitled to a universal benefit (programs.universal, e.g. 高龄津贴 at
--   80) who never applied: status normal in the resident registry, no death registered on or
--   before `$as_of`, `min_age` reached (and `max_age` not passed) on `$as_of` by the ID's birth
--   date, living in a region with a standard for the program in the as-of month, and no roster
--   record of the program in any status. An outreach lead, not misuse: it goes to the
--   outreach lists, never to the supervision files. Evidence: age and the monthly standard.
-- meaning: 户籍状态正常、未登记死亡、在核查日已达到普惠性项目（如高龄津贴）规定年龄、
--   所在地有该项目标准，但从未列入该项目名册的居民。这是"政策找人"线索，不是违规问题：
--   请联系本人或家属告知政策，协助申请。
-- amount: 不计金额（这是应享未享的政策找人线索，不涉及已发放的资金）。
-- basis: 民政部"政策找人"要求：主动发现符合条件未申请的对象；各地高龄津贴制度：达到规定
--   年龄的户籍老年人按月享受高龄津贴。
SELECT
  r.id_no,
  r.name,
  g.program,
  r.region_code,
  month_of($as_of) AS period,
  CAST(NULL AS DECIMAL(18,2)) AS amount_at_risk,
  age_on(r.id_no, $as_of) AS age,
  s.monthly_standard,
  r.hukou_id
FROM residents r
CROSS JOIN programs g
JOIN month_standard s ON s.region_code = r.region_code AND s.program = g.program AND s.period = month_of($as_of)
WHERE g.universal
  AND r.status = 'normal'
  AND r.id_valid
  AND age_on(r.id_no, $as_of) >= COALESCE(g.min_age, 0)
  AND (g.max_age IS NULL OR age_on(r.id_no, $as_of) <= g.max_age)
  AND NOT EXISTS (SELECT 1 FROM roster x WHERE x.id_no = r.id_no AND x.program = g.program)
  AND NOT EXISTS (SELECT 1 FROM deaths d WHERE d.id_no = r.id_no AND d.death_date <= $as_of)
