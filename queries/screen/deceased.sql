-- id: deceased
-- title: 收款人已死亡
-- severity: high
-- catalogue: screen
-- subject: source_row
-- optional: roster
-- description: A payment for a month after the month the recipient died (and the
--   `death_grace_months` after it), by the death registries: under the same ID number, or
--   one a digit off or with two adjacent digits swapped when the name is the same and the
--   birth dates both numbers carry agree (as `deceased_recipient` matches).
-- meaning: 收款人在死亡登记（民政、公安户籍注销、殡葬火化）中已死亡，本笔发放的所属期在死亡当月及宽限期之后。
--   请暂停发放，核实死亡情况并办理停发。
-- amount: 本笔发放金额。
-- basis: 《社会救助暂行办法》(国务院令第649号) 第十三条；《最低生活保障审核确认办法》(民发〔2021〕57号)。
WITH mourned AS (
  SELECT DISTINCT id_no, name FROM batch
  WHERE name IN (SELECT name FROM deaths WHERE name IS NOT NULL)
),
near AS (
  -- Blocked on the name and what a slip or a swap leaves whole: the birth
  -- date the number carries, or else its region and last four.
  SELECT r.id_no, d.id_no AS registry_id_no, d.death_date, d.source
  FROM deaths d JOIN mourned r ON r.name = d.name AND substr(r.id_no, 7, 8) = substr(d.id_no, 7, 8)
  WHERE r.id_no <> d.id_no
  UNION ALL
  SELECT r.id_no, d.id_no AS registry_id_no, d.death_date, d.source
  FROM deaths d JOIN mourned r
    ON r.name = d.name AND left(r.id_no, 6) = left(d.id_no, 6) AND substr(r.id_no, 15) = substr(d.id_no, 15)
  WHERE substr(r.id_no, 7, 8) <> substr(d.id_no, 7, 8)
),
matched AS (
  SELECT id_no, id_no AS registry_id_no, death_date, source, 'exact' AS match FROM deaths
  UNION ALL
  SELECT n.id_no, n.registry_id_no, n.death_date, n.source, id_match(n.id_no, n.registry_id_no) AS match
  FROM near n
  WHERE id_match(n.id_no, n.registry_id_no) IN ('one_digit', 'transposed')
    AND (id_birth_date(n.id_no) IS NULL OR id_birth_date(n.registry_id_no) IS NULL
         OR id_birth_date(n.id_no) = id_birth_date(n.registry_id_no))
    AND NOT EXISTS (SELECT 1 FROM mourned m WHERE m.id_no = n.registry_id_no)
    AND NOT EXISTS (SELECT 1 FROM roster r WHERE r.id_no = n.registry_id_no)
)
SELECT b.source_row, MIN(d.death_date) AS death_date, MIN(d.source) AS death_source,
       -- How a mistyped number matched; nothing to say of the same number.
       MIN(CASE WHEN d.match <> 'exact' THEN d.match END) AS match,
       MIN(CASE WHEN d.match <> 'exact' THEN d.registry_id_no END) AS registry_id_no
FROM batch b
JOIN matched d ON d.id_no = b.id_no
WHERE b.period > add_months(month_of(d.death_date), $death_grace_months)
GROUP BY b.source_row
