-- Event types on primary and standby (docs/reference/types.md): reads return the same
-- upcasted rows, and schemas check the same way (the checks only read).
SELECT * FROM chronicle.read_stream('shipment-1');
SELECT * FROM chronicle.read_all(category => 'shipment');
SELECT * FROM chronicle._upcast('RepShipped', 1, '{"box": "P9", "kg": 1}');
SELECT chronicle._check_event('RepShipped', 3, '{"parcel": "P7", "weight": 1}');
DO $$
BEGIN
    PERFORM chronicle._check_event('RepShipped', 3, '{"parcel": "X7"}');
    RAISE EXCEPTION 'data breaking the schema was accepted';
EXCEPTION WHEN SQLSTATE 'SE003' THEN
    RAISE NOTICE 'SE003: %', SQLERRM;
END $$;
SELECT * FROM chronicle.event_types ORDER BY type, type_version;
SELECT * FROM chronicle.upcasters ORDER BY type, from_version;
