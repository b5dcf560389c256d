-- id: asset_overrun
-- title: 家庭财产超标
-- severity: medium
-- materialize: households, members
-- catalogue: core
-- subject: household_id, program
-- description: Households active on the as-of date in a means-tested program
--   (programs.means_tested) whose members hold, on the as-of date: deposits per person above
--   `deposit_multiple` × the annual standard (twelve months of the standard in force), a
--   vehicle that is not exempt (a disability mobility vehicle is), more than
--   `max_residential_properties` homes, or an active business. Amount at risk: what the
--   household was paid by the program.
-- meaning: 需审核家庭经济状况的救助项目中，截至核查日仍在保的家庭有以下情况之一：
--   人均存款超过规定倍数的年保障标准、有机动车（残疾人代步车除外）、住房超过规定套数、
--   有正在经营的经营主体。请入户核实家庭财产情况，确属超标的按规定停保并追回。
-- amount: 该家庭在该项目下数据期内领取的全部金额（不含银行退回的款项）。
-- basis: 《最低生活保障审核确认办法》(民发〔2021〕57号) 关于家庭财产状况认定的规定：
--   存款、机动车辆、房产、经营性资产超过规定的不予认定；《特困人员认定办法》(民发〔2021〕43号)。
-- optional: deposits, vehicles, properties, businesses
WITH households AS (
  SELECT r.household_id, r.program, MAX(r.region_code) AS region_code,
         COALESCE(MAX(r.household_size), COUNT(DISTINCT r.id_no)) AS size
  FROM roster_cover r
  JOIN programs g ON g.program = r.program AND g.means_tested
  WHERE r.status = 'active' AND r.cover_until >= month_of($as_of)
  GROUP BY r.household_id, r.program
),
members AS (
  SELECT DISTINCT r.household_id, r.program, r.id_no
  FROM roster_cover r
  JOIN households h ON h.household_id = r.household_id AND h.program = r.program
  WHERE r.status = 'active' AND r.cover_until >= month_of($as_of)
),
latest_deposit AS (
  SELECT id_no, balance
  FROM (
    SELECT id_no, balance, LAG(id_no) OVER (ORDER BY id_no, as_of DESC) AS previous_id
    FROM deposits WHERE as_of <= $as_of
  ) d
  WHERE previous_id IS DISTINCT FROM id_no
),
deposit AS (
  SELECT m.household_id, m.program, SUM(d.balance) AS deposits
  FROM members m JOIN latest_deposit d ON d.id_no = m.id_no
  GROUP BY m.household_id, m.program
),
vehicle AS (
  SELECT m.household_id, m.program, COUNT(*) AS vehicles,
         string_agg(v.plate_no, ',' ORDER BY v.plate_no) AS plates
  FROM members m JOIN vehicles v ON v.id_no = m.id_no
  WHERE v.registered_on <= $as_of
    AND (v.deregistered_on IS NULL OR v.deregistered_on > $as_of)
    AND NOT COALESCE(v.exempt, FALSE)
  GROUP BY m.household_id, m.program
),
home AS (
  SELECT m.household_id, m.program, COUNT(DISTINCT p.property_id) AS homes
  FROM members m JOIN properties p ON p.id_no = m.id_no
  WHERE p.usage = 'residential' AND p.registered_on <= $as_of
    AND (p.cancelled_on IS NULL OR p.cancelled_on > $as_of)
  GROUP BY m.household_id, m.program
),
business AS (
  SELECT m.household_id, m.program, COUNT(DISTINCT b.credit_code) AS businesses
  FROM members m JOIN businesses b ON b.id_no = m.id_no
  WHERE b.status = 'active'
    AND (b.established_on IS NULL OR b.established_on <= $as_of)
    AND (b.closed_on IS NULL OR b.closed_on > $as_of)
  GROUP BY m.household_id, m.program
),
paid_to AS (
  SELECT m.household_id, m.program, SUM(p.amount) AS paid
  FROM members m JOIN paid p ON p.id_no = m.id_no AND p.program = m.program
  GROUP BY m.household_id, m.program
),
judged AS (
  SELECT h.household_id, h.program, h.region_code, h.size,
         d.deposits,
         d.deposits / h.size AS deposits_per_person,
         $deposit_multiple * 12 * s.monthly_standard AS deposit_limit_per_person,
         v.vehicles, v.plates, o.homes, b.businesses, pt.paid,
         d.deposits / h.size > $deposit_multiple * 12 * s.monthly_standard AS over_deposits,
         COALESCE(v.vehicles, 0) > 0 AS has_vehicle,
         COALESCE(o.homes, 0) > $max_residential_properties AS too_many_homes,
         COALESCE(b.businesses, 0) > 0 AS has_business
  FROM households h
  LEFT JOIN deposit d ON d.household_id = h.household_id AND d.program = h.program
  LEFT JOIN vehicle v ON v.household_id = h.household_id AND v.program = h.program
  LEFT JOIN home o ON o.household_id = h.household_id AND o.program = h.program
  LEFT JOIN business b ON b.household_id = h.household_id AND b.program = h.program
  LEFT JOIN paid_to pt ON pt.household_id = h.household_id AND pt.program = h.program
  LEFT JOIN month_standard s ON s.region_code = h.region_code AND s.program = h.program AND s.period = month_of($as_of)
)
SELECT
  hd.id_no,
  hd.name,
  j.household_id,
  j.program,
  j.region_code,
  month_of($as_of) AS period,
  j.paid AS amount_at_risk,
  concat_ws('; ',
    CASE WHEN j.over_deposits THEN 'deposits' END,
    CASE WHEN j.has_vehicle THEN 'vehicle' END,
    CASE WHEN j.too_many_homes THEN 'homes' END,
    CASE WHEN j.has_business THEN 'business' END) AS reasons,
  j.size AS household_size,
  j.deposits,
  j.deposits_per_person,
  j.deposit_limit_per_person,
  j.vehicles,
  j.plates,
  j.homes,
  j.businesses
FROM judged j
LEFT JOIN household_head hd ON hd.household_id = j.household_id AND hd.program = j.program
WHERE COALESCE(j.over_deposits, FALSE) OR j.has_vehicle OR j.too_many_homes OR j.has_business
