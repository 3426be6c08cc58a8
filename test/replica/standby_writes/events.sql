-- Each statement must fail on the standby with 25006.
SELECT chronicle.append('account-1', 'Deposited', '{"amount": 1}')
SELECT chronicle.append('new-1', 'Opened', '{}', expected_version => 0)
SELECT chronicle.append_batch('account-2', '[{"type": "Deposited", "data": {"amount": 1}}]')
