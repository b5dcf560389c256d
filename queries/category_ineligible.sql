-- id: category_ineligible
-- title: 对象类别不符
-- severity: high
-- catalogue: field
-- subject: household_id, program
-- requires: roster.category, programs.eligible_categories
-- description: Roster records whose category (对象类别) is not among the categories their
--   program admits (programs.eligible_categories, separated by |), e.g. 低保 given to a family
--   outside the admitted categories, or 临时救助 outside its three kinds. A program with no
--   category list admits any category; a record with no category recorded is not judged.
--   One case per household and program. Amount at risk: what was paid (and not sent back)
--   to those members for that program within their records' months.
-- meaning: 名册登记的对象类别不在该项目允许的类别之内（例如低保对象类别不符合规定，
--   或临时救助不属于规定的救助类型）。请核对该户申请材料和认定依据，
--   确认是类别登记错误还是不应享受。
-- amount: 类别不符的成员在其名册记录保障期内领取该项目的金额之和（不含银行退回的款项）。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号) 及各地低保对象分类施保规定；
--   《关于进一步加强和改进临时救助工作的意见》(民发〔2018〕23号) 关于救助对象类别的规定。
WITH bad AS (
  SELECT r.household_id, r.program, r.id_no, r.region_code, r.start_period, r.cover_until, r.category,
         g.eligible_categories
  FROM roster_cover r
  JOIN programs g ON g.program = r.program
  WHERE r.category IS NOT NULL
    AND g.eligible_categories IS NOT NULL
    AND trim(g.eligible_categories) <> ''
    AND NOT array_has(
          string_to_array(regexp_replace(trim(g.eligible_categories), '\s*\|\s*', '|', 'g'), '|'),
          r.category)
),
paid_to AS (
  SELECT b.household_id, b.program, CAST(SUM(p.amount) AS DECIMAL(18,2)) AS paid
  FROM bad b
  JOIN paid p ON p.id_no = b.id_no AND p.program = b.program
   AND p.period BETWEEN b.start_period AND b.cover_until
  GROUP BY b.household_id, b.program
),
categories AS (
  SELECT household_id, program, string_agg(category, ',' ORDER BY category) AS category
  FROM (SELECT DISTINCT household_id, program, category FROM bad) c
  GROUP BY household_id, program
)
SELECT
  MIN(h.id_no) AS id_no,
  MIN(h.name) AS name,
  b.household_id,
  b.program,
  MAX(b.region_code) AS region_code,
  MIN(b.start_period) AS period,
  MAX(t.paid) AS amount_at_risk,
  MAX(c.category) AS category,
  MAX(b.eligible_categories) AS eligible_categories,
  COUNT(DISTINCT b.id_no) AS persons
FROM bad b
JOIN categories c ON c.household_id = b.household_id AND c.program = b.program
LEFT JOIN paid_to t ON t.household_id = b.household_id AND t.program = b.program
LEFT JOIN household_head h ON h.household_id = b.household_id AND h.program = b.program
GROUP BY b.household_id, b.program
