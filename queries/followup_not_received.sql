-- id: followup_not_received
-- title: 随访反映未到账
-- severity: high
-- catalogue: field
-- subject: payout_id
-- description: A phone follow-up that reached the recipient and recorded that the money did
--   not arrive, or arrived in part, for a payout the ledger shows as paid (and the bank did
--   not send back). The latest call that reached the recipient counts; an unreached call
--   says nothing. Amount at risk: the payout's amount.
-- meaning: 电话随访联系到本人，本人反映该笔钱没有到账或只到账一部分，
--   但发放记录显示已发放且银行没有退回。请调取银行流水、核实账户归属，查明资金去向，
--   排查截留、冒领。
-- amount: 该笔发放的全部金额。
-- basis: 民政部、财政部关于社会救助资金"到户、到人、到卡"的监督检查要求：抽样电话随访核实
--   资金到账情况，对反映未足额到账的逐一核实。
WITH latest_call AS (
  SELECT payout_id, called_on, received, note, caller, knows_policy
  FROM (
    SELECT f.*, ROW_NUMBER() OVER (PARTITION BY payout_id ORDER BY called_on DESC, source_row DESC) AS n
    FROM followups f
    WHERE reached
  ) x
  WHERE n = 1
)
SELECT
  p.id_no,
  p.name,
  p.household_id,
  p.program,
  p.region_code,
  p.period,
  p.payout_id,
  CAST(p.amount AS DECIMAL(18,2)) AS amount_at_risk,
  c.received,
  c.called_on,
  c.note AS caller_note,
  c.caller,
  p.account_no,
  p.paid_on
FROM latest_call c
JOIN paid p ON p.payout_id = c.payout_id
WHERE c.received IN ('none', 'partial')
