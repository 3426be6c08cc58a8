-- Each statement must fail on the standby with 25006: definitions are writes.
SELECT chronicle.define_event_type('RepShipped', '{"type": "object"}', 4)
SELECT chronicle.define_upcaster('RepShipped', 3, '{"set": {"v4": true}}')
SELECT chronicle.append('shipment-2', 'RepShipped', '{"parcel": "P1"}')
