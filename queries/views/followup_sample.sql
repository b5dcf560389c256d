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
-- `paid` spelt out, the month first: only the latest month's payouts meet the returns.
candidates AS (
  SELECT p.payout_id, left(p.region_code, 6) AS county, p.region_code, p.program,
         p.id_no, p.name, p.amount, p.period, p.paid_on, p.account_no,
         md5(concat(CAST($as_of AS VARCHAR), '|', p.payout_id)) AS draw
  FROM payouts p
  WHERE p.period IN (SELECT period FROM latest)
    AND NOT EXISTS (SELECT 1 FROM returned_ids r WHERE r.payout_id = p.payout_id)
),
-- One payout per person: the first of each person's rows in draw order. LAG over the
-- county, not ROW_NUMBER over (county, id_no): a window with a partition per person is
-- twenty times slower.
one_per_person AS (
  SELECT * FROM (
    SELECT *, LAG(id_no) OVER (PARTITION BY county ORDER BY id_no, draw) AS previous_id FROM candidates
  )
  WHERE previous_id IS DISTINCT FROM id_no
),
turns AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY county, program ORDER BY draw) AS turn FROM one_per_person
),
-- A draw past the county's quota in its own program cannot be picked (every earlier turn
-- of that program comes before it), so only the first turns are ranked.
picked AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY county ORDER BY turn, program, draw) AS pick FROM turns
  WHERE turn <= $followup_per_county
)
-- The phone and the program's name for the people picked only, not for every candidate.
SELECT k.county, k.pick, k.region_code, k.program, g.name_zh AS program_name, k.payout_id, k.id_no, k.name, ph.phone,
       k.amount, k.period, k.paid_on, k.account_no
FROM picked k
LEFT JOIN phones ph ON ph.id_no = k.id_no AND ph.program = k.program
LEFT JOIN programs g ON g.program = k.program
WHERE k.pick <= $followup_per_county
