-- view: followup_sample
-- description: The phone follow-up list (电话随访抽样): in each county, `followup_per_county`
--   recipients paid in the latest month, one payout per person, spread over the programs
--   (the first draw of every program, then the second …), drawn by a hash of the as-of
--   date and the payout id, so a re-run picks the same people. With the phone number from
--   the roster and the program's Chinese name.
-- optional: roster, programs
WITH latest AS (
  SELECT MAX(period) AS period FROM paid
),
phones AS (
  SELECT id_no, program, MAX(phone) AS phone FROM roster GROUP BY id_no, program
),
candidates AS (
  SELECT p.payout_id, left(p.region_code, 6) AS county, p.region_code, p.program, g.name_zh AS program_name,
         p.id_no, p.name, ph.phone, p.amount, p.period, p.paid_on, p.account_no,
         md5(concat(CAST($as_of AS VARCHAR), '|', p.payout_id)) AS draw
  FROM paid p
  JOIN latest l ON p.period = l.period
  LEFT JOIN phones ph ON ph.id_no = p.id_no AND ph.program = p.program
  LEFT JOIN programs g ON g.program = p.program
),
-- One payout per person: the first of each person's rows in draw order. LAG over the
-- county, not ROW_NUMBER over (county, id_no): a window with a partition per person is
-- twenty times slower.
one_per_person AS (
  SELECT * FROM (
    SELECT c.*, LAG(c.id_no) OVER (PARTITION BY county ORDER BY id_no, draw) AS previous_id FROM candidates c
  ) x
  WHERE previous_id IS DISTINCT FROM id_no
),
turns AS (
  SELECT o.*, ROW_NUMBER() OVER (PARTITION BY county, program ORDER BY draw) AS turn FROM one_per_person o
),
picked AS (
  SELECT t.*, ROW_NUMBER() OVER (PARTITION BY county ORDER BY turn, program, draw) AS pick FROM turns t
)
SELECT county, pick, region_code, program, program_name, payout_id, id_no, name, phone, amount, period, paid_on, account_no
FROM picked
WHERE pick <= $followup_per_county
