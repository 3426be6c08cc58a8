-- Each statement must fail on the standby with 25006.
SELECT chronicle.redact('erasure-1')
SELECT chronicle.redact_tagged('person:1')
