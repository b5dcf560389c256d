-- view: household_head
-- description: One person per roster household and program to name a household case
--   after: the head of household (户主), else the member with the lowest ID number.
SELECT household_id, program, id_no, name, region_code
FROM (
  SELECT household_id, program, id_no, name, region_code,
         ROW_NUMBER() OVER (
           PARTITION BY household_id, program
           ORDER BY CASE WHEN relation = '户主' THEN 0 ELSE 1 END, id_no
         ) AS n
  FROM roster
) h
WHERE n = 1
