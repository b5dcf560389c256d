-- view: household_head
-- materialize: once
-- description: One person per roster household and program to name a household case
--   after: the head of household (户主), else the member with the lowest ID number.
--   Computed once a night (six rules read it); the first row of each household in that
--   order, found with LAG over the program, not ROW_NUMBER over the household: a window
--   with a partition per household is many times slower.
SELECT household_id, program, id_no, name, region_code
FROM (
  SELECT household_id, program, id_no, name, region_code,
         LAG(household_id) OVER (
           PARTITION BY program
           ORDER BY household_id, CASE WHEN relation = '户主' THEN 0 ELSE 1 END, id_no
         ) AS previous_household
  FROM roster
) h
WHERE previous_household IS DISTINCT FROM household_id
