-- id: name_mismatch
-- title: 身份信息不一致
-- severity: medium
-- materialize: keyed, flagged, known
-- catalogue: field
-- subject: id_no
-- optional: residents
-- description: The same ID number under different names in the payouts, the roster and the
--   resident registry. Names are compared after ingest's normalisation (full-width folded,
--   trimmed) with spaces and the middle dots of minority names (·・•.) removed, so 王　明,
--   王 明 and 王明 are one name. Evidence lists the names as each source writes them.
--   Amount at risk: what was paid (and not sent back) under a name that is not the one the
--   registry knows (or, for a person the registry does not list, the roster).
-- meaning: 同一身份证号在发放记录、名册和户籍信息中的姓名不一致（空格、
--   全角半角和少数民族姓名中间点的差别已忽略）。请核实领取人的真实身份，排查冒名顶替，
--   并更正错误信息。
-- amount: 以与户籍姓名不同的姓名领取的金额之和（户籍中查无此人的，与名册姓名比较；
--   不含银行退回的款项）。
-- basis: 《社会救助暂行办法》第九条、第十一条：救助对象身份应真实准确；民政部《关于进一步
--   加强和改进最低生活保障工作的通知》：发放信息应与户籍信息一致，防止冒名顶替。
WITH
pay AS (
  SELECT p.id_no, p.name, MIN(p.program) AS program, MIN(p.region_code) AS region_code,
         CAST(SUM(CASE WHEN r.payout_id IS NULL THEN p.amount END) AS DECIMAL(18,2)) AS paid
  FROM payouts p
  LEFT JOIN returned_ids r ON r.payout_id = p.payout_id
  GROUP BY p.id_no, p.name
),
seen AS (
  SELECT id_no, name, 'payouts' AS seen_in, program, region_code, paid FROM pay
  UNION ALL
  SELECT id_no, name, 'roster' AS seen_in, MIN(program) AS program, MIN(region_code) AS region_code,
         CAST(NULL AS DECIMAL(18,2)) AS paid
  FROM roster GROUP BY id_no, name
  UNION ALL
  SELECT id_no, name, 'residents' AS seen_in, CAST(NULL AS VARCHAR) AS program, MIN(region_code) AS region_code,
         CAST(NULL AS DECIMAL(18,2)) AS paid
  FROM residents GROUP BY id_no, name
),
keyed AS (
  SELECT s.*, regexp_replace(s.name, '[\s·・•.‧]', '', 'g') AS name_key FROM seen s
),
flagged AS (
  SELECT id_no FROM keyed GROUP BY id_no HAVING COUNT(DISTINCT name_key) > 1
),
-- The names a person is known by: the registry's, else the roster's.
known AS (
  SELECT k.id_no, k.name_key
  FROM keyed k JOIN flagged f ON f.id_no = k.id_no
  WHERE k.seen_in = 'residents'
     OR (k.seen_in = 'roster'
         AND NOT EXISTS (SELECT 1 FROM keyed x WHERE x.id_no = k.id_no AND x.seen_in = 'residents'))
),
paid_otherwise AS (
  SELECT k.id_no, CAST(SUM(k.paid) AS DECIMAL(18,2)) AS paid
  FROM keyed k JOIN flagged f ON f.id_no = k.id_no
  WHERE k.seen_in = 'payouts'
    AND EXISTS (SELECT 1 FROM known n WHERE n.id_no = k.id_no)
    AND NOT EXISTS (SELECT 1 FROM known n WHERE n.id_no = k.id_no AND n.name_key = k.name_key)
  GROUP BY k.id_no
)
SELECT
  k.id_no,
  COALESCE(MAX(CASE WHEN k.seen_in = 'residents' THEN k.name END),
           MAX(CASE WHEN k.seen_in = 'roster' THEN k.name END),
           MAX(k.name)) AS name,
  MIN(k.program) AS program,
  COALESCE(MAX(CASE WHEN k.seen_in = 'residents' THEN k.region_code END),
           MAX(CASE WHEN k.seen_in = 'roster' THEN k.region_code END),
           MIN(k.region_code)) AS region_code,
  MAX(o.paid) AS amount_at_risk,
  string_agg(CASE WHEN k.seen_in = 'payouts' THEN k.name END, ',' ORDER BY k.name) AS names_paid,
  string_agg(CASE WHEN k.seen_in = 'roster' THEN k.name END, ',' ORDER BY k.name) AS names_roster,
  string_agg(CASE WHEN k.seen_in = 'residents' THEN k.name END, ',' ORDER BY k.name) AS names_registry
FROM keyed k
JOIN flagged f ON f.id_no = k.id_no
LEFT JOIN paid_otherwise o ON o.id_no = k.id_no
GROUP BY k.id_no
