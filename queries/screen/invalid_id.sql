-- id: invalid_id
-- title: 身份证号无效
-- severity: high
-- catalogue: screen
-- subject: source_row
-- description: A payment to an ID number that is not a valid GB 11643 number on the as-of
--   date (length, check character, birth date, region).
-- meaning: 收款人身份证号不是有效号码（位数、校验码、出生日期或地区码不对），可能录入错误或虚构身份。请暂停发放，核对身份证件。
-- amount: 本笔发放金额。
-- basis: GB 11643《公民身份号码》。
SELECT source_row, id_problem(id_no) AS problem
FROM batch
WHERE id_problem(id_no) IS NOT NULL
